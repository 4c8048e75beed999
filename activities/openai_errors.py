"""OpenAI SDK exceptions as Temporal `ApplicationError`s: what to retry, when, and what to say.

The SDK's own retries are off (`max_retries=0`); Temporal retries the activity. Rate limits and
server errors are retried no earlier than the API's `retry-after-ms` / `retry-after` allow (at
most 5 minutes); requests the API refused for what they are (400, 401, 403, 404, 422) and an
account out of quota (a 429 `insufficient_quota`) are not retried; `x-should-retry`, when the
API sends it, decides either way.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TypeVar

import httpx2 as httpx
import openai
import pydantic
from temporalio.exceptions import ApplicationError

from workflows.common import first_error
from workflows.run.snapshots import RETRYABLE_RUN_FAILURES
from workflows.run.steps import ACTIVE_RUN_CONFLICT

M = TypeVar("M", bound=pydantic.BaseModel)
ASSISTANTS_SHUTDOWN = (
    "OpenAI shut the Assistants API down on 2026-08-26, so {url} no longer exists there. "
    "Set OPENAI_BACKEND=responses to run on the Responses API, or point OPENAI_BASE_URL at a "
    "server that still speaks the Assistants API."
)
_ACTIVE_RUN = re.compile(r"already has an active run (\w+)")
_ASSISTANTS_PATHS = re.compile(r"/(assistants|threads)(/|$)")
_RETRYABLE_STATUS = frozenset({408, 409, 429})
NEVER_RETRIED = frozenset({"insufficient_quota"})
"""Error codes that come with a retryable status (429) but that no retry helps: the account
has no credit left. The run fails at once with OpenAI's words."""
MAX_RETRY_AFTER = timedelta(minutes=5)


@contextmanager
def api_errors(doing: str) -> Iterator[None]:
    """Translate SDK and transport exceptions raised inside the block; `doing` says what the
    activity was doing, for the error message."""
    try:
        yield
    except openai.APIStatusError as err:
        raise from_status_error(err, doing) from err
    except (openai.APIConnectionError, httpx.TransportError) as err:
        raise ApplicationError(
            f"{doing}: connection to the OpenAI API failed: {err}", type="APIConnectionError"
        ) from err
    except (openai.APIResponseValidationError, json.JSONDecodeError) as err:
        raise ApplicationError(
            f"{doing}: the OpenAI API sent a malformed response: {err}", type="MalformedResponse"
        ) from err
    except openai.APIError as err:  # an `error` event in a stream
        body = err.body if isinstance(err.body, dict) else {}
        raise stream_error(doing, body.get("code"), err.message) from err


def stream_error(doing: str, code: object, message: str | None) -> ApplicationError:
    """A stream that ended with an `error` event: retried when the API says it is transient."""
    retryable = code is None or code in RETRYABLE_RUN_FAILURES
    said = f": {message}" if message else ""
    return ApplicationError(
        f"{doing}: the stream failed: {code}{said}",
        type="StreamError",
        non_retryable=not retryable,
    )


def active_run_id(err: openai.BadRequestError) -> str | None:
    """The run named by a 400 "thread already has an active run" error."""
    found = _ACTIVE_RUN.search(_api_message(err))
    return found[1] if found else None


def checked(model: M) -> M:
    """The SDK builds response objects without validating them; a malformed response (a
    missing id, an unknown status) must be a retried error, not a half-built object that
    reaches a workflow."""
    return validated(type(model), model.model_dump(mode="json", warnings=False))


def validated(model: type[M], data: object) -> M:
    """`data` (JSON the API sent) as `model`, or a retried error that names what was wrong."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as err:
        where, problem = first_error(err)
        what = f"{model.__name__}: {where}" if where else model.__name__
        raise ApplicationError(
            f"the OpenAI API sent a malformed {what}: {problem}", type="MalformedResponse"
        ) from None


def from_status_error(err: openai.APIStatusError, doing: str) -> ApplicationError:
    status = err.status_code
    message = f"{doing}: {status} {_api_message(err)}"
    kind = type(err).__name__
    if _error_code(err) in NEVER_RETRIED:
        return ApplicationError(message, type=kind, non_retryable=True)
    if _should_retry(err.response, status in _RETRYABLE_STATUS or status >= 500):
        return ApplicationError(message, type=kind, next_retry_delay=retry_after(err.response))
    active = _ACTIVE_RUN.search(message)
    if status == 400 and active:
        return ApplicationError(message, active[1], type=ACTIVE_RUN_CONFLICT, non_retryable=True)
    if status == 404 and _is_openai_assistants(err.response.request):
        message = ASSISTANTS_SHUTDOWN.format(url=err.response.request.url)
        return ApplicationError(message, type="AssistantsAPIShutDown", non_retryable=True)
    return ApplicationError(message, type=kind, non_retryable=True)


def _should_retry(response: httpx.Response, by_status: bool) -> bool:
    """The API's `x-should-retry` header overrides what the status says (as the SDK's own
    retries do)."""
    said = response.headers.get("x-should-retry", "").strip().lower()
    return {"true": True, "false": False}.get(said, by_status)


def retry_after(response: httpx.Response) -> timedelta | None:
    """How long the API asked us to wait, from `retry-after-ms` or `retry-after` (seconds),
    at most `MAX_RETRY_AFTER` (a huge or infinite value would stall the step for good)."""
    for header, unit in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            seconds = float(response.headers.get(header, "")) * unit
        except ValueError:
            continue
        if math.isnan(seconds):
            continue
        return timedelta(seconds=min(max(0.0, seconds), MAX_RETRY_AFTER.total_seconds()))
    return None


def _error_code(err: openai.APIStatusError) -> str | None:
    body = err.body
    code = body.get("code") or body.get("type") if isinstance(body, dict) else None
    return str(code) if code else None


def _api_message(err: openai.APIStatusError) -> str:
    body = err.body
    if isinstance(body, dict):
        message = str(body.get("message") or err.message)
        param = body.get("param")
        return f"{message} (param: {param})" if param else message
    return err.message


def _is_openai_assistants(request: httpx.Request) -> bool:
    return request.url.host == "api.openai.com" and bool(_ASSISTANTS_PATHS.search(request.url.path))
