"""`durable-assistants serve`: a stateless HTTP gateway in front of the workflows.

Every piece of state lives in Temporal, so any number of replicas can serve behind a load
balancer. One module per job: `app` (the factory), `auth` (bearer tokens bound to tenants),
`guard` (what every request passes before a route), `tenancy` (workflow ids and who owns them),
`runs` and `conversations` (the routes), `views` (a run as shown), `sse` (Server-Sent Events),
`errors` (OpenAI-style error bodies), `models` (request and response shapes), `page` (the web
chat), `server` (the process).
"""
