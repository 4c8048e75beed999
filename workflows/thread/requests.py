"""The run that answers a conversation's message: the conversation's assistant, its run
defaults and the message's own overrides. A message that makes no valid run is refused with
the field at fault named; it never fails the conversation that others share."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from temporalio.exceptions import ApplicationError

from workflows.common import first_error
from workflows.run.contracts import RunRequest, refused_by
from workflows.thread.contracts import ThreadConfig, ThreadMessage

INVALID_MESSAGE = "InvalidMessage"
"""The error type of a message refused for what it asks (not to be sent again as it is)."""


def run_request(
    config: ThreadConfig, message: ThreadMessage, thread_id: str | None, tokens_left: int | None
) -> RunRequest:
    """The `RunRequest` answering `message`; an `ApplicationError` of type `INVALID_MESSAGE`
    naming the field when there is none (`overrides.temperature: ...`)."""
    fields: dict[str, Any] = {
        **config.defaults,
        **message.overrides,
        "assistant_id": config.assistant_id,
        "assistant": config.assistant,
        "prompt": config.prompt,
        "backend": config.backend,
        "thread_id": thread_id,
        "on_active_run": "wait",
        "messages": [message.model_dump(include={"content", "attachments", "metadata"})],
    }
    if tokens_left is not None:  # no run may spend more than is left
        asked = fields.get("max_total_tokens")
        fields["max_total_tokens"] = max(min(tokens_left, asked or tokens_left), 1)
    try:
        request = RunRequest.model_validate(fields)
    except ValidationError as err:
        raise invalid_message(_named(*first_error(err), config, message)) from None
    if config.backend is not None and (refused := refused_by(config.backend, request)):
        raise invalid_message(_named("", refused, config, message))
    return request


def invalid_message(why: str) -> ApplicationError:
    return ApplicationError(why, type=INVALID_MESSAGE, non_retryable=True)


def _named(field: str, problem: str, config: ThreadConfig, message: ThreadMessage) -> str:
    """`problem` led by where the caller set the field: the message's overrides or the
    conversation's defaults (a problem of the whole request names its fields itself)."""
    problem = problem.removeprefix("Value error, ")
    if not field:
        return problem
    top = field.split(".")[0]
    where = (
        "overrides." if top in message.overrides else "defaults." if top in config.defaults else ""
    )
    return f"{where}{field}: {problem}"
