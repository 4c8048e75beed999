"""Errors as OpenAI's API words them: `{"error": {"message", "type", "param", "code"}}`, with
the field at fault named in `param` and at the start of `message`."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from workers.failures import failure_message
from workflows.thread.requests import INVALID_MESSAGE

_FIELD_FIRST = re.compile(r"^([A-Za-z_][\w.\[\]]*(?:, [A-Za-z_][\w.]*)*): ")
_BY_STATUS = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("authentication_error", "invalid_token"),
    404: ("not_found_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    409: ("conflict_error", "conflict"),
    413: ("invalid_request_error", "request_too_large"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    503: ("service_unavailable_error", "temporal_unavailable"),
}


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    """Every error response (4xx, 5xx)."""

    error: ErrorDetail


class ApiError(Exception):
    """An error a route answers with: its status, and the body's fields."""

    def __init__(
        self, status: int, message: str, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        kind, default_code = _BY_STATUS.get(status, ("api_error", "error"))
        self.kind = kind
        self.code = code or default_code
        self.param = param


def not_found(what: str) -> ApiError:
    """The same 404 for what does not exist and for what is another tenant's."""
    return ApiError(404, f"no {what}", "not_found")


def error_body(
    message: str, kind: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return ErrorBody(
        error=ErrorDetail(message=message, type=kind, param=param, code=code)
    ).model_dump()


def _respond(err: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
    body = error_body(err.message, err.kind, err.param, err.code)
    return JSONResponse(body, status_code=err.status, headers=headers)


def field_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """`messages[0].content` from pydantic's ('body', 'messages', 0, 'content')."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def validation_error(errors: list[Any], prefix: str = "") -> ApiError:
    """400 naming the invalid fields, the first in `param` (an unknown field first: a typo
    is also why the field meant is missing)."""
    errors = sorted(errors, key=lambda error: error.get("type") != "extra_forbidden")
    first = errors[0]
    if first.get("type") == "json_invalid":
        error = first.get("ctx", {}).get("error")
        return ApiError(400, f"the body is not valid JSON: {error}", code="json_invalid")
    described = [_described(error, prefix) for error in errors[:MAX_ERRORS_SHOWN]]
    message = "; ".join(text for _, text in described)
    if len(errors) > MAX_ERRORS_SHOWN:
        message += f" (and {len(errors) - MAX_ERRORS_SHOWN} more)"
    return ApiError(
        400, message, code=str(first.get("type", "invalid_request")), param=described[0][0]
    )


MAX_ERRORS_SHOWN = 3


def _described(error: Any, prefix: str) -> tuple[str | None, str]:
    """(the field's path, `path: what is wrong`)."""
    param = field_path([*(prefix.split(".") if prefix else []), *error["loc"]]) or None
    message = str(error["msg"]).removeprefix("Value error, ")
    if param is None and (named := _FIELD_FIRST.match(message)):
        return named.group(1), message
    return param, f"{param}: {message}" if param else message


def update_refused(err: WorkflowUpdateFailedError) -> ApiError:
    """An update's validator (or handler) said no: 409 with its words, the field it names;
    a message refused for what it asks is the caller's bad input: 400 naming its field."""
    message = failure_message(err)
    cause = err.cause
    code = cause.type if isinstance(cause, ApplicationError) and cause.type else "update_refused"
    if code in ("ValueError", "ValidationError", "ApplicationError"):
        code = "update_refused"
    if code == INVALID_MESSAGE:
        return invalid_message(message)
    named = _FIELD_FIRST.match(message)
    return ApiError(409, message, code=code, param=named.group(1) if named else None)


def invalid_message(why: str) -> ApiError:
    """400 for a conversation message that makes no valid run (`why` names the field of the
    message: `overrides.temperature: ...`)."""
    message = f"message.{why}"
    named = _FIELD_FIRST.match(message)
    return ApiError(400, message, code="invalid_message", param=named.group(1) if named else None)


def rpc_error(err: RPCError, what: str) -> ApiError:
    if err.status == RPCStatusCode.NOT_FOUND:
        if "already completed" in err.message:
            return ApiError(409, f"{what} has already ended", "already_ended")
        return not_found(what)
    if err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return ApiError(503, f"Temporal did not answer: {err.message}")
    return ApiError(502, f"Temporal: {err.status.name}: {err.message}", "temporal_error")


def install(app: FastAPI) -> None:
    """The handlers that turn every expected failure into an error body."""

    async def api_error(_: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, ApiError)
        return _respond(err)

    async def invalid_request(_: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, RequestValidationError | ValidationError)
        return _respond(validation_error(list(err.errors())))

    async def http_error(_: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, HTTPException)
        message = err.detail if isinstance(err.detail, str) else str(err.detail)
        if err.status_code == 404:
            message = "no such route"
        return _respond(ApiError(err.status_code, message))

    async def refused(_: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, WorkflowUpdateFailedError)
        return _respond(update_refused(err))

    async def temporal(_: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, RPCError)
        return _respond(rpc_error(err, "such workflow"))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(ValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(WorkflowUpdateFailedError, refused)
    app.add_exception_handler(RPCError, temporal)
