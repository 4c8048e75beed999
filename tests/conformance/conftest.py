"""The emulator on a real loopback port, the official `openai` SDK pointed at it, and the
spec's schemas to check what comes back."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from functools import cache
from typing import Any

import httpx2 as httpx
import pytest
from openai import AsyncOpenAI, DefaultAsyncHttpxClient, DefaultHttpxClient, OpenAI

from emulator.config import EmulatorConfig, Timings
from emulator.server import BackgroundEmulator
from emulator.spec import operations, response_schema, schema_validator, validator

UNSPECIFIED_BODIES = frozenset({"DeleteContainer", "DeleteContainerFile"})
"""Operations whose 200 the spec documents without a body, while its example (and the live
API) sends `{"id", "object": "container.deleted", "deleted": true}`."""
FAST = Timings(queued=0.02, in_progress=0.05, cancelling=0.02, indexing=0.05)
API_KEY = "sk-emulator-test"


@pytest.fixture(scope="session")
def emulator() -> Iterator[BackgroundEmulator]:
    with BackgroundEmulator(EmulatorConfig(timings=FAST)) as server:
        yield server


@pytest.fixture
def client(emulator: BackgroundEmulator) -> OpenAI:
    """The sync SDK; every JSON response it receives is checked against the spec."""
    http = DefaultHttpxClient(event_hooks={"response": [check_response]})
    return OpenAI(base_url=emulator.base_url, api_key=API_KEY, max_retries=0, http_client=http)


@pytest.fixture
async def aclient(emulator: BackgroundEmulator) -> AsyncIterator[AsyncOpenAI]:
    """The async SDK; every JSON response it receives is checked against the spec."""

    async def check(response: httpx.Response) -> None:
        await response.aread()
        check_response(response)

    http = DefaultAsyncHttpxClient(event_hooks={"response": [check]})
    async with AsyncOpenAI(
        base_url=emulator.base_url, api_key=API_KEY, max_retries=0, http_client=http
    ) as c:
        yield c


@cache
def _routes() -> list[tuple[str, re.Pattern[str], str]]:
    found = []
    for operation_id, (method, path, _) in operations().items():
        pattern = re.sub(r"\\{[a-z_]+\\}", "[^/]+", re.escape(path))
        found.append((method, re.compile(f"^/v1{pattern}$"), operation_id))
    # Literal segments beat parameters: /threads/runs is not /threads/{thread_id}.
    return sorted(found, key=lambda route: route[1].pattern.count("[^/]+"))


def operation_for(method: str, path: str) -> str | None:
    return next((op for m, rx, op in _routes() if m == method and rx.match(path)), None)


def check_response(response: httpx.Response) -> None:
    """Validate a JSON response against the spec: errors against `ErrorResponse`, successes
    against the operation's 200 schema. Streams are checked event by event by their tests."""
    if "application/json" not in response.headers.get("content-type", ""):
        return
    response.read()
    if response.status_code >= 400:
        assert_schema("ErrorResponse", response.json())
        return
    operation = operation_for(response.request.method, response.request.url.path)
    assert operation is not None, f"no operation for {response.request.url.path}"
    if operation in UNSPECIFIED_BODIES:
        assert response.json()["deleted"] is True
        return
    assert_conforms(operation, response.json())


@pytest.fixture
def counters(emulator: BackgroundEmulator) -> Any:
    def read() -> dict[str, dict[str, int]]:
        snapshot: dict[str, dict[str, int]] = httpx.get(f"{emulator.admin_url}/counters").json()
        return snapshot

    return read


def assert_conforms(operation_id: str, body: Any) -> None:
    """`body` is valid against the spec's 200 response schema of `operation_id`.

    One allowance: an empty list page has `first_id`/`last_id` null, as the live API sends
    it; the spec's list schemas say string without an exception for empty pages."""
    if isinstance(body, dict) and body.get("data") == [] and "first_id" in body:
        body = {**body, "first_id": body["first_id"] or "", "last_id": body["last_id"] or ""}
    schema = response_schema(operation_id)
    assert schema is not None, f"the spec has no JSON response for {operation_id}"
    errors = sorted(validator(schema).iter_errors(body), key=str)
    assert not errors, f"{operation_id}: {errors[0].message} at {list(errors[0].absolute_path)}"


def assert_schema(name: str, body: Any) -> None:
    """`body` is valid against the spec's component schema `name`."""
    errors = sorted(schema_validator(name).iter_errors(body), key=str)
    assert not errors, f"{name}: {errors[0].message} at {list(errors[0].absolute_path)}"
