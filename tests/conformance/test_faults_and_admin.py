"""Injected faults as the SDK meets them, authentication, the admin endpoints, state files."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2 as httpx
import openai
import pytest
from openai import OpenAI

from emulator.app import AUTOSAVE_SECONDS
from emulator.config import EmulatorConfig, FaultRule
from emulator.server import BackgroundEmulator
from emulator.store import Store


def with_fault(client: OpenAI, fault: str) -> OpenAI:
    return client.with_options(default_headers={"X-Emulator-Fault": fault})


def test_rate_limit_sends_retry_after_and_ratelimit_headers(client: OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as raised:
        with_fault(client, "status=429 retry_after=0.25").beta.assistants.list()
    headers = raised.value.response.headers
    assert headers["retry-after-ms"] == "250"
    assert headers["retry-after"] == "1"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert raised.value.code == "rate_limit_exceeded"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors(client: OpenAI, status: int) -> None:
    with pytest.raises(openai.InternalServerError) as raised:
        with_fault(client, f"status={status}").beta.assistants.list()
    assert raised.value.status_code == status


def test_latency_delays_the_answer(client: OpenAI) -> None:
    started = time.monotonic()
    with_fault(client, "latency=0.3").beta.assistants.list()
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("where", ["headers", "body"])
def test_dropped_connection_is_a_connection_error(client: OpenAI, where: str) -> None:
    with pytest.raises(openai.APIConnectionError):
        with_fault(client, f"drop={where}").beta.assistants.create(model="gpt-4o")


def test_dropped_stream_breaks_the_stream_helper_with_a_raw_transport_error(
    client: OpenAI,
) -> None:
    """The SDK does not wrap errors raised mid-stream: callers see httpx's own."""
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    broken = with_fault(client, "drop=stream")
    with (
        pytest.raises(httpx.RemoteProtocolError),
        broken.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream,
    ):
        stream.until_done()


@pytest.mark.parametrize("how", ["truncate", "unknown_status", "missing_fields"])
def test_a_corrupt_stream_malforms_each_event_after_the_first_ones(
    client: OpenAI, how: str
) -> None:
    corrupted = with_fault(client, f"corrupt={how} after_events=1")
    with corrupted.responses.with_streaming_response.create(
        model="gpt-4o", input="hi", stream=True
    ) as streamed:
        lines = [line for line in streamed.iter_lines() if line.startswith("data: {")]
    first, *rest = (line[len("data: ") :] for line in lines)
    assert json.loads(first)["response"]["status"] == "in_progress"
    assert rest
    for data in rest:
        if how == "truncate":
            with pytest.raises(ValueError, match=r"Expecting|Unterminated"):
                json.loads(data)
            continue
        event = json.loads(data)
        malformed = event.get("response", event)  # a lifecycle event: the response it carries
        if how == "unknown_status":
            assert malformed["status"] == "bewildered"
        else:
            assert "id" not in malformed
            assert "status" not in malformed


def test_a_bad_fault_header_is_a_clear_400(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="X-Emulator-Fault header: status"):
        with_fault(client, "status=418").beta.assistants.list()


@pytest.fixture
def own_emulator() -> Iterator[BackgroundEmulator]:
    with BackgroundEmulator(EmulatorConfig(api_key="sk-right")) as server:
        yield server


def test_configured_fault_rules_hit_the_matching_requests_a_limited_number_of_times(
    own_emulator: BackgroundEmulator,
) -> None:
    rule = FaultRule(status=500, times=2, route="^GET /v1/assistants$")
    config = EmulatorConfig(api_key="sk-right", faults=[rule])
    httpx.put(
        f"{own_emulator.admin_url}/config", content=config.model_dump_json()
    ).raise_for_status()
    sdk = OpenAI(base_url=own_emulator.base_url, api_key="sk-right", max_retries=0)
    sdk.beta.threads.create()  # another route: untouched
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            sdk.beta.assistants.list()
    assert sdk.beta.assistants.list().data == []
    counters = httpx.get(f"{own_emulator.admin_url}/counters").json()
    assert counters["faults_injected"] == {"500": 2}
    assert counters["requests"]["GET /v1/assistants 500"] == 2


def test_each_newly_installed_rule_gets_its_own_count_of_hits(
    own_emulator: BackgroundEmulator,
) -> None:
    # One rule after another, each used up before the next replaces it: a new rule often
    # lands where the last one lived in memory, and must not inherit its count.
    sdk = OpenAI(base_url=own_emulator.base_url, api_key="sk-right", max_retries=0)
    for _ in range(30):
        rule = FaultRule(status=500, times=1, route="^GET /v1/assistants$")
        own_emulator.emulator.config = EmulatorConfig(api_key="sk-right", faults=[rule])
        del rule
        with pytest.raises(openai.InternalServerError):
            sdk.beta.assistants.list()
        sdk.beta.assistants.list()


def test_sdk_retries_honour_retry_after(own_emulator: BackgroundEmulator) -> None:
    rule = FaultRule(status=429, retry_after=0.4, times=1)
    config = EmulatorConfig(api_key="sk-right", faults=[rule])
    httpx.put(
        f"{own_emulator.admin_url}/config", content=config.model_dump_json()
    ).raise_for_status()
    sdk = OpenAI(base_url=own_emulator.base_url, api_key="sk-right", max_retries=1)
    started = time.monotonic()
    sdk.beta.assistants.list()
    assert time.monotonic() - started >= 0.4


def test_wrong_or_missing_api_key_is_401(own_emulator: BackgroundEmulator) -> None:
    wrong = OpenAI(base_url=own_emulator.base_url, api_key="sk-wrong-key-123", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        wrong.beta.assistants.list()
    assert raised.value.code == "invalid_api_key"
    assert "sk-wrong-key-123" not in str(raised.value)
    response = httpx.get(f"{own_emulator.base_url}/assistants")
    assert response.status_code == 401
    assert "didn't provide an API key" in response.json()["error"]["message"]


def test_unknown_url_and_unparsable_json(client: OpenAI, emulator: BackgroundEmulator) -> None:
    headers = {"Authorization": "Bearer sk-x"}
    missing = httpx.get(f"{emulator.base_url}/nothing-here", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Invalid URL (GET /v1/nothing-here)"
    garbled = httpx.post(f"{emulator.base_url}/assistants", content=b"{nope", headers=headers)
    assert garbled.status_code == 400
    assert "could not parse the JSON body" in garbled.json()["error"]["message"]


def test_reset_forgets_everything(own_emulator: BackgroundEmulator) -> None:
    sdk = OpenAI(base_url=own_emulator.base_url, api_key="sk-right", max_retries=0)
    assistant = sdk.beta.assistants.create(model="gpt-4o")
    httpx.post(f"{own_emulator.admin_url}/reset").raise_for_status()
    with pytest.raises(openai.NotFoundError):
        sdk.beta.assistants.retrieve(assistant.id)
    counters = httpx.get(f"{own_emulator.admin_url}/counters").json()
    assert "assistants_created" not in counters
    assert counters["requests"] == {"GET /v1/assistants/{assistant_id} 404": 1}


def test_state_file_keeps_objects_across_restarts(tmp_path: Path) -> None:
    state = tmp_path / "emulator.state"
    with BackgroundEmulator(state_file=state) as first:
        sdk = OpenAI(base_url=first.base_url, api_key="sk-x", max_retries=0)
        thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "remember me"}])
    with BackgroundEmulator(state_file=state) as second:
        sdk = OpenAI(base_url=second.base_url, api_key="sk-x", max_retries=0)
        text = sdk.beta.threads.messages.list(thread.id).data[0].content[0].text.value  # type: ignore[union-attr]
        assert text == "remember me"


def test_an_upload_whose_body_arrives_across_an_autosave_is_saved_while_serving(
    tmp_path: Path,
) -> None:
    """The state file is written while the emulator serves (a kill loses at most a moment),
    including what a request stored after an autosave that ran while it was in flight."""
    state = tmp_path / "emulator.state"
    with BackgroundEmulator(state_file=state) as running:
        upload = httpx.Request(
            "POST",
            f"{running.base_url}/files",
            headers={"Authorization": "Bearer sk-x", "Connection": "close"},
            data={"purpose": "assistants"},
            files={"file": ("notes.md", b"slow upload")},
        )
        body = upload.read()
        with socket.create_connection((running.host, running.port)) as connection:
            head = "".join(f"{name}: {value}\r\n" for name, value in upload.headers.items())
            connection.sendall(f"POST /v1/files HTTP/1.1\r\n{head}\r\n".encode() + body[:10])
            _wait_for(state.exists, "an autosave while the upload is in flight")
            connection.sendall(body[10:])
            answer = connection.makefile("rb").read().decode()
        file_id = json.loads(answer.partition("\r\n\r\n")[2])["id"]
        _wait_for(lambda: _holds_file(state, file_id), "the upload in the state file")


def _holds_file(state: Path, file_id: str) -> bool:
    return Store.load(state).collection("files", "File").find(file_id) is not None


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 5 * AUTOSAVE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("how", ["truncate", "unknown_status", "missing_fields"])
def test_corrupt_responses_are_malformed_as_asked(emulator: BackgroundEmulator, how: str) -> None:
    headers = {"Authorization": "Bearer sk-x", "X-Emulator-Fault": f"corrupt={how}"}
    body = {"model": "gpt-4o"}
    response = httpx.post(f"{emulator.base_url}/assistants", json=body, headers=headers)
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    if how == "truncate":
        with pytest.raises(ValueError, match=r"Expecting|Unterminated"):
            response.json()
    elif how == "unknown_status":
        assert response.json()["status"] == "bewildered"
    else:
        assert "id" not in response.json()
