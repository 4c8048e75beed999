"""SDK exceptions become ApplicationErrors that retry when, and only when, retrying can help."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx2 as httpx
import openai
import pytest
from temporalio.exceptions import ApplicationError

from activities.openai_errors import api_errors, from_status_error

ERROR_CLASSES: dict[int, type[openai.APIStatusError]] = {
    400: openai.BadRequestError,
    401: openai.AuthenticationError,
    403: openai.PermissionDeniedError,
    404: openai.NotFoundError,
    409: openai.ConflictError,
    422: openai.UnprocessableEntityError,
    429: openai.RateLimitError,
    500: openai.InternalServerError,
    503: openai.InternalServerError,
}


def status_error(
    status: int,
    message: str = "nope",
    url: str = "http://localhost/v1/threads/t/runs",
    headers: dict[str, str] | None = None,
    param: str | None = None,
) -> openai.APIStatusError:
    request = httpx.Request("POST", url)
    response = httpx.Response(status, headers=headers or {}, request=request)
    body: dict[str, Any] = {"message": message, "type": "x", "param": param, "code": None}
    return ERROR_CLASSES[status](message, response=response, body=body)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_refused_requests_are_not_retried(status: int) -> None:
    error = from_status_error(status_error(status, "bad thing", param="model"), "creating a run")
    assert error.non_retryable
    assert error.message == f"creating a run: {status} bad thing (param: model)"


@pytest.mark.parametrize("status", [409, 429, 500, 503])
def test_rate_limits_conflicts_and_server_errors_are_retried(status: int) -> None:
    assert not from_status_error(status_error(status), "x").non_retryable


@pytest.mark.parametrize(
    ("headers", "delay"),
    [
        ({"retry-after-ms": "1500"}, timedelta(seconds=1.5)),
        ({"retry-after": "3"}, timedelta(seconds=3)),
        ({"retry-after-ms": "250", "retry-after": "9"}, timedelta(seconds=0.25)),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({}, None),
    ],
)
def test_the_next_retry_waits_as_long_as_the_api_asked(
    headers: dict[str, str], delay: timedelta | None
) -> None:
    assert from_status_error(status_error(429, headers=headers), "x").next_retry_delay == delay


def test_an_active_run_conflict_carries_the_run_id() -> None:
    message = "Thread thread_1 already has an active run run_abc."
    error = from_status_error(status_error(400, message), "x")
    assert (error.type, error.details, error.non_retryable) == (
        "ActiveRunConflict",
        ("run_abc",),
        True,
    )


def test_a_404_from_openais_assistants_api_names_the_shutdown_and_the_way_out() -> None:
    url = "https://api.openai.com/v1/threads/thread_1/runs"
    error = from_status_error(status_error(404, url=url), "x")
    assert error.type == "AssistantsAPIShutDown"
    assert "2026-08-26" in error.message
    assert "OPENAI_BACKEND=responses" in error.message
    other = from_status_error(status_error(404, url="http://localhost/v1/threads/t"), "x")
    assert other.type == "NotFoundError"


def test_transport_failures_and_malformed_bodies_are_retried() -> None:
    request = httpx.Request("GET", "http://localhost/v1/threads")
    for raised in (
        httpx.RemoteProtocolError("peer closed connection", request=request),
        openai.APIConnectionError(request=request),
        ValueError("not translated"),
    ):
        with pytest.raises((ApplicationError, ValueError)) as caught, api_errors("reading"):
            raise raised
        if isinstance(raised, ValueError):
            assert caught.value is raised
        else:
            assert isinstance(caught.value, ApplicationError)
            assert not caught.value.non_retryable
            assert caught.value.type == "APIConnectionError"


def test_malformed_response_objects_are_a_retried_error() -> None:
    from openai.types.beta import Thread
    from openai.types.beta.threads import Run

    from activities.openai_errors import checked

    thread = Thread.construct(id="thread_1", object="thread", created_at=1, metadata={})
    assert checked(thread).id == "thread_1"
    for malformed, named in (
        (Run.construct(**{**RUN, "status": "bewildered"}), "status"),
        (Thread.construct(object="thread", created_at=1), "id"),
    ):
        with pytest.raises(ApplicationError) as caught:
            checked(malformed)
        assert caught.value.type == "MalformedResponse"
        assert f": {named}: " in caught.value.message
        assert not caught.value.non_retryable


def test_a_malformed_streamed_event_is_a_retried_error_naming_the_field() -> None:
    from openai.types.beta.threads import Run

    from activities.openai_errors import validated
    from activities.stream_events import MessageDelta, ResponseEvent, RunState

    delta = {"type": "response.output_text.delta", "sequence_number": 3, "delta": "Hi"}
    assert validated(ResponseEvent, delta).sequence_number == 3
    for model, malformed, named in (
        (ResponseEvent, {"type": "response.output_text.delta", "delta": "Hi"}, "sequence_number"),
        (RunState, {"id": "run_1"}, "status"),
        (MessageDelta, {"id": "msg_1", "delta": {"content": "Hi"}}, "delta.content"),
        (Run, {**RUN, "status": "bewildered"}, "status"),
        (ResponseEvent, "not an event", "ResponseEvent: Input should be a valid dictionary"),
    ):
        with pytest.raises(ApplicationError) as caught:
            validated(model, malformed)
        assert caught.value.type == "MalformedResponse"
        assert f"malformed {model.__name__}: " in caught.value.message
        assert named in caught.value.message
        assert not caught.value.non_retryable


RUN: dict[str, Any] = {
    "id": "run_1",
    "object": "thread.run",
    "created_at": 1,
    "assistant_id": "asst_1",
    "thread_id": "thread_1",
    "status": "queued",
    "instructions": "",
    "model": "gpt-4o",
    "tools": [],
    "parallel_tool_calls": True,
}


def test_a_429_for_an_account_out_of_quota_is_not_retried() -> None:
    error = status_error(429, "You exceeded your current quota")
    assert isinstance(error.body, dict)
    error.body["code"] = "insufficient_quota"
    refused = from_status_error(error, "starting a response")
    assert refused.non_retryable
    assert "You exceeded your current quota" in refused.message


@pytest.mark.parametrize(
    ("status", "header", "retried"),
    [(500, "false", False), (429, "false", False), (400, "true", True), (500, "TRUE", True)],
)
def test_x_should_retry_overrides_what_the_status_says(
    status: int, header: str, retried: bool
) -> None:
    error = status_error(status, headers={"x-should-retry": header})
    assert from_status_error(error, "x").non_retryable is not retried


@pytest.mark.parametrize("value", ["inf", "1e12", "999999999999999999999999"])
def test_a_retry_after_beyond_any_wait_is_capped(value: str) -> None:
    delay = from_status_error(status_error(429, headers={"retry-after": value}), "x")
    assert delay.next_retry_delay == timedelta(minutes=5)


def test_a_retry_after_that_is_not_a_number_is_ignored() -> None:
    error = status_error(429, headers={"retry-after": "nan", "retry-after-ms": "soon"})
    assert from_status_error(error, "x").next_retry_delay is None
