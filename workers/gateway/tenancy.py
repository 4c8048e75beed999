"""Whose a workflow is. Every workflow the gateway starts carries its tenant twice: in its id
(`run-{tenant}.{key}`, `thread-{tenant}.{key}`: tenants have no dot, so no prefix is another
tenant's) and in the `Tenant` search attribute, which a conversation passes on to its runs
(`thread-{tenant}.{key}/run-{n}`; runs of conversations started before it did are known by
their conversation's). The attribute decides: an id that only looks like the tenant's (a
conversation the CLI started with the key `acme.x`) is not its own. Anything a caller's
tenant does not own is answered exactly as what does not exist: 404."""

from __future__ import annotations

import re
import uuid

from temporalio.client import Client, WorkflowExecutionDescription
from temporalio.service import RPCError, RPCStatusCode

from workers.gateway.errors import ApiError, not_found, rpc_error
from workflows.search_attributes import TENANT

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$"
"""A conversation key or an Idempotency-Key: what stays readable in a workflow id and a URL."""
_KEY_CHARS = r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}"


def run_workflow_id(tenant: str, idempotency_key: str | None) -> str:
    """Same key, same workflow: the key is the id, under the tenant."""
    return f"run-{tenant}.{checked_key(idempotency_key) or uuid.uuid4().hex}"


def message_update_id(idempotency_key: str | None) -> str:
    """Same key, same update of the conversation: the server takes a message sent again under
    its update id once (while the execution that took it is the conversation's)."""
    return f"message-{checked_key(idempotency_key) or uuid.uuid4().hex}"


def checked_key(idempotency_key: str | None) -> str | None:
    if idempotency_key is not None and not re.fullmatch(KEY_PATTERN, idempotency_key):
        raise ApiError(
            400,
            "Idempotency-Key: 1 to 128 letters, digits and _ . : @ - (starting with a letter "
            "or digit)",
            "invalid_idempotency_key",
            "Idempotency-Key",
        )
    return idempotency_key


def conversation_key(tenant: str, key: str) -> str:
    """The key of the tenant's conversation `key` as the workflows know it (its workflow id
    is `thread-` and this)."""
    return f"{tenant}.{key}"


def caller_key(tenant: str, internal_key: str) -> str:
    return internal_key.removeprefix(f"{tenant}.")


def is_tenants_run(tenant: str, workflow_id: str) -> bool:
    """An id the gateway gives the tenant's runs: started by it, or by its conversations."""
    t = re.escape(tenant)
    return bool(
        re.fullmatch(rf"run-{t}\.{_KEY_CHARS}", workflow_id)
        or re.fullmatch(rf"thread-{t}\.{_KEY_CHARS}/run-[0-9]+", workflow_id)
    )


async def owned(
    client: Client, tenant: str, workflow_id: str, what: str
) -> WorkflowExecutionDescription:
    """The workflow's description if it exists and is the tenant's; else 404."""
    described = await describe(client, workflow_id, what)
    if await tenant_of(client, described, what) != tenant:
        raise not_found(what)
    return described


async def tenant_of(
    client: Client, described: WorkflowExecutionDescription, what: str
) -> str | None:
    """The tenant the gateway started the workflow for (None: not started by the gateway).
    Only the `Tenant` search attribute says so: an id that merely looks like a tenant's (a
    conversation the CLI started with the key `acme.x`) is nobody's. A conversation's run
    started before conversations passed the attribute on has none: it is its
    conversation's tenant's."""
    marked = described.typed_search_attributes.get(TENANT)
    if marked is None and (parent := _conversation_of(described.id)) is not None:
        conversation = await describe(client, parent, what)
        marked = conversation.typed_search_attributes.get(TENANT)
    return marked


def _conversation_of(workflow_id: str) -> str | None:
    """The conversation workflow a conversation's run (`thread-….../run-N`) belongs to."""
    found = re.fullmatch(r"(thread-.+)/run-[0-9]+", workflow_id)
    return found[1] if found else None


async def describe(client: Client, workflow_id: str, what: str) -> WorkflowExecutionDescription:
    described = await find(client, workflow_id, what)
    if described is None:
        raise not_found(what)
    return described


async def find(client: Client, workflow_id: str, what: str) -> WorkflowExecutionDescription | None:
    """The workflow's description; None if there is no workflow of that id."""
    try:
        return await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise rpc_error(err, what) from None
