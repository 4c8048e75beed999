"""Request parsing and responses shared by every endpoint."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from emulator.errors import APIError, invalid
from emulator.spec import validate_request
from emulator.store import JSON, paginate

if TYPE_CHECKING:
    from emulator.state import Emulator

METADATA_MAX_PAIRS = 16
METADATA_KEY_MAX = 64
METADATA_VALUE_MAX = 512


def emulator(request: Request) -> Emulator:
    found: Emulator = request.app.state.emulator
    return found


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


async def json_body(request: Request, operation_id: str) -> JSON:
    """The request's JSON body, validated against the spec's schema for `operation_id`."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError:
        raise APIError(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
            "but what was sent was not valid JSON.)",
        ) from None
    if not isinstance(body, dict):
        raise invalid("Invalid type for body: expected an object.", code="invalid_type")
    validate_request(operation_id, body)
    if "metadata" in body:
        check_metadata(body["metadata"])
    return body


def check_metadata(metadata: dict[str, str] | None, param: str = "metadata") -> None:
    if not metadata:
        return
    if len(metadata) > METADATA_MAX_PAIRS:
        raise invalid(
            f"Invalid '{param}': too many properties. Expected an object with at most "
            f"{METADATA_MAX_PAIRS} properties, but got an object with {len(metadata)} "
            "properties instead.",
            param=param,
            code="object_above_max_properties",
        )
    for key, value in metadata.items():
        if len(key) > METADATA_KEY_MAX:
            raise invalid(
                f"Invalid '{param}': string too long. Expected a string with maximum length "
                f"{METADATA_KEY_MAX}, but got a string with length {len(key)} instead.",
                param=f"{param}.{key}",
                code="string_above_max_length",
            )
        if len(value) > METADATA_VALUE_MAX:
            raise invalid(
                f"Invalid '{param}.{key}': string too long. Expected a string with maximum "
                f"length {METADATA_VALUE_MAX}, but got a string with length {len(value)} instead.",
                param=f"{param}.{key}",
                code="string_above_max_length",
            )


def list_page(request: Request, items: list[JSON], max_limit: int = 100) -> JSON:
    """Paginate `items` (in creation order) by the request's limit/order/after/before."""
    query = request.query_params
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise invalid(
            f"Invalid type for 'limit': expected an integer, but got '{query['limit']}' instead.",
            param="limit",
            code="invalid_type",
        ) from None
    return paginate(
        items,
        limit=limit,
        order=query.get("order", "desc"),
        after=query.get("after"),
        before=query.get("before"),
        max_limit=max_limit,
    )


def deleted(object_id: str, kind: str) -> Response:
    return ok({"id": object_id, "object": f"{kind}.deleted", "deleted": True})
