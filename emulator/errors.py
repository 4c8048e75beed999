"""API errors with the status codes, `error.type`, `error.code` and wording OpenAI uses."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from starlette.responses import Response


class APIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = dict(headers or {})

    def body(self) -> dict[str, object]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> Response:
        return Response(
            json.dumps(self.body()),
            status_code=self.status,
            headers=self.headers,
            media_type="application/json",
        )


def not_found(kind: str, object_id: str) -> APIError:
    return APIError(404, f"No {kind} found with id '{object_id}'.")


MISSING_MODEL_PREFIX = "no-such-"
"""Models named so do not exist: creating a run or response on one is refused."""


def check_model_exists(model: object) -> None:
    """The API's refusal of a model that does not exist (or that the key cannot use)."""
    if isinstance(model, str) and model.startswith(MISSING_MODEL_PREFIX):
        raise APIError(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )


def invalid(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def missing_api_key() -> APIError:
    return APIError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization "
        "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    )


def bad_api_key(key: str) -> APIError:
    shown = f"{key[:3]}*****{key[-4:]}" if len(key) > 8 else "*****"
    return APIError(
        401,
        f"Incorrect API key provided: {shown}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def rate_limited(retry_after: float) -> APIError:
    millis = max(1, round(retry_after * 1000))
    return APIError(
        429,
        "Rate limit reached for requests in organization org-emulator on requests per min "
        f"(RPM): Limit 500, Used 500, Requested 1. Please try again in {millis}ms.",
        type="requests",
        code="rate_limit_exceeded",
        headers={
            "retry-after": str(max(1, math.ceil(retry_after))),
            "retry-after-ms": str(millis),
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": f"{millis}ms",
            "x-ratelimit-limit-tokens": "30000",
            "x-ratelimit-remaining-tokens": "29000",
            "x-ratelimit-reset-tokens": "2s",
        },
    )


def out_of_quota() -> APIError:
    """What the API says when the account has no credit left: a 429 that no retry helps."""
    return APIError(
        429,
        "You exceeded your current quota, please check your plan and billing details. For "
        "more information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors.",
        type="insufficient_quota",
        code="insufficient_quota",
    )


def server_error(status: int, retry_after: float | None = None) -> APIError:
    message = (
        "The engine is currently overloaded, please try again later."
        if status == 503
        else "The server had an error while processing your request. Sorry about that!"
    )
    headers = {} if retry_after is None else {"retry-after": str(max(1, math.ceil(retry_after)))}
    return APIError(status, message, type="server_error", headers=headers)
