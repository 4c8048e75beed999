"""The health endpoints' HTTP answers and which errors count as the OpenAI API's."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx2 as httpx
import openai
import pytest
from temporalio.exceptions import ApplicationError

from tests.ports import free_port
from workers.fleet import rate_limited_for
from workers.health import health_endpoints
from workers.metrics import api_error_status


async def test_health_endpoints_answer_liveness_readiness_and_name_what_is_wrong() -> None:
    reasons: list[str | None] = ["not yet polling task queue q"]

    async def ready() -> str | None:
        return reasons[0]

    port = free_port()
    async with health_endpoints(port, ready), httpx.AsyncClient(timeout=5) as http:
        base = f"http://127.0.0.1:{port}"
        assert (await http.get(f"{base}/livez")).json() == {"status": "alive"}
        not_ready = await http.get(f"{base}/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json() == {"status": "not ready", "reason": "not yet polling task queue q"}
        reasons[0] = None
        assert (await http.get(f"{base}/readyz")).status_code == 200
        missing = await http.get(f"{base}/metrics")
        assert (missing.status_code, missing.json()["error"]) == (
            404,
            "no /metrics: try /livez or /readyz",
        )
        assert (await http.post(f"{base}/readyz")).status_code == 405


async def test_a_client_that_sends_half_a_request_does_not_stop_the_endpoints() -> None:
    async def ready() -> str | None:
        return None

    port = free_port()
    async with health_endpoints(port, ready):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /livez HTTP/1.1\r\n")  # and never the blank line
        await writer.drain()
        writer.close()
        async with httpx.AsyncClient(timeout=5) as http:
            assert (await http.get(f"http://127.0.0.1:{port}/livez")).status_code == 200


def _status_error(status: int) -> openai.APIStatusError:
    request = httpx.Request("POST", "https://api.openai.com/v1/responses")
    response = httpx.Response(status, request=request, json={"error": {"message": "x"}})
    return openai.APIStatusError("x", response=response, body=None)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (_status_error(429), "429"),
        (_status_error(503), "503"),
        (openai.APIConnectionError(request=httpx.Request("GET", "https://x")), "connection"),
        (openai.APITimeoutError(request=httpx.Request("GET", "https://x")), "timeout"),
        (httpx.ReadError("reset"), "connection"),
        (RuntimeError("a bug of ours"), None),
    ],
)
def test_api_errors_are_counted_by_status_through_the_activitys_own_error(
    error: BaseException, status: str | None
) -> None:
    wrapped = ApplicationError("what the activity raised", type="X")
    wrapped.__cause__ = error
    assert api_error_status(wrapped) == status


def _rate_limited(retry_after: float | None) -> ApplicationError:
    delay = None if retry_after is None else timedelta(seconds=retry_after)
    error = ApplicationError("429", type="RateLimitError", next_retry_delay=delay)
    request = httpx.Request("POST", "https://api.openai.com/v1/responses")
    response = httpx.Response(429, request=request)
    error.__cause__ = openai.RateLimitError("slow down", response=response, body=None)
    return error


@pytest.mark.parametrize(
    ("error", "pause"),
    [
        (_rate_limited(2.0), 2.0),
        (_rate_limited(1.0), 1.0),
        (_rate_limited(0.2), None),  # the activity's own retry is enough
        (_rate_limited(None), None),  # no retry-after: nothing to hold the fleet to
        (ApplicationError("500", next_retry_delay=timedelta(seconds=5)), None),
    ],
)
def test_the_fleet_pauses_only_for_a_429_asking_for_a_second_or_more(
    error: ApplicationError, pause: float | None
) -> None:
    assert rate_limited_for(error) == pause
