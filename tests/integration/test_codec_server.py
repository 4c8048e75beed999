"""`durable-assistants codec-server` as a user runs it: Temporal's remote codec protocol over
HTTP in the UI's JSON form, bearer tokens made by `codec-token`, CORS for the Temporal UI's
origin, refusing to start without keys or tokens, and the `temporal` CLI decoding an
encrypted history through it."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from google.protobuf import json_format
from pydantic import SecretStr
from temporalio.api.common.v1 import Payloads
from temporalio.contrib.pydantic import pydantic_data_converter

from tests.ports import free_port
from workers.client import start_run
from workers.codec import EncryptionCodec, parse_keys
from workers.connection import connect
from workers.settings import Settings
from workflows.contracts import RunRequest

from .conftest import WORKER_CLI, cli_env, run_cli
from .test_processes import read_until

SECRET = "Ask Professor Quillfeather about the vault"
UI = "http://ui.example:8233"
TEMPORAL_CLI = str(Path(sys.executable).parent / "temporal")


@dataclass
class CodecServer:
    url: str
    process: subprocess.Popen[str]
    token: str
    keys: str

    def stop(self) -> tuple[int, str]:
        """SIGTERM; the exit code and what it logged after starting."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(30)
        assert self.process.stderr is not None
        return code, self.process.stderr.read()


@pytest.fixture
def keys() -> str:
    return f"old:{base64.b64encode(bytes(32)).decode()},new:{_new_key()}"


def _new_key() -> str:
    made = subprocess.run([WORKER_CLI, "codec-key", "x"], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().removeprefix("x:")


@pytest.fixture
def token(settings: Settings) -> tuple[str, str]:
    """A token made by `codec-token`, and the CODEC_SERVER_TOKENS entry it printed."""
    made = subprocess.run(
        [WORKER_CLI, "codec-token"], env=cli_env(settings), capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    return made.stdout.strip(), made.stderr.strip().removeprefix("configure: CODEC_SERVER_TOKENS=")


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def spawn(
    settings: Settings, servers: list[subprocess.Popen[str]], env: dict[str, str], *args: str
) -> tuple[str, subprocess.Popen[str], str]:
    """A codec server's URL, its process and what it logged until it listened."""
    port = free_port()
    process = subprocess.Popen(
        [WORKER_CLI, "codec-server", "--port", str(port), *args],
        env={**cli_env(settings), "LOG_FORMAT": "json", "TEMPORAL_UI_URL": f"{UI}/", **env},
        stderr=subprocess.PIPE,
        text=True,
    )
    servers.append(process)
    started = read_until(process, process.stderr, "Uvicorn running on", 60)
    return f"http://127.0.0.1:{port}", process, started


@pytest.fixture
def server(
    settings: Settings, servers: list[subprocess.Popen[str]], keys: str, token: tuple[str, str]
) -> CodecServer:
    value, digest = token
    env = {"PAYLOAD_ENCRYPTION_KEYS": keys, "CODEC_SERVER_TOKENS": digest}
    url, process, _ = spawn(settings, servers, env)
    return CodecServer(url, process, value, keys)


def ui_form(*values: Any) -> dict[str, Any]:
    """Payloads as the UI sends them: proto JSON, bytes in base64."""
    payloads = Payloads(payloads=pydantic_data_converter.payload_converter.to_payloads(values))
    form: dict[str, Any] = json_format.MessageToDict(payloads)
    return form


def headers(token: str | None = None, origin: str | None = None) -> dict[str, str]:
    sent = {"Content-Type": "application/json", "X-Namespace": "default"}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if origin is not None:
        sent["Origin"] = origin
    return sent


async def test_encode_then_decode_round_trips_in_the_uis_json_form(server: CodecServer) -> None:
    sent = ui_form(SECRET, {"tool": "lookup", "arguments": SECRET})
    async with httpx.AsyncClient(base_url=server.url) as http:
        encoded = await http.post("/encode", json=sent, headers=headers(server.token))
        assert encoded.status_code == 200, encoded.text
        assert encoded.headers["content-type"] == "application/json"
        payloads = encoded.json()["payloads"]
        assert len(payloads) == 2
        for payload in payloads:
            assert base64.b64decode(payload["metadata"]["encoding"]) == b"binary/encrypted"
            assert base64.b64decode(payload["metadata"]["encryption-key-id"]) == b"new"
            assert SECRET.encode() not in base64.b64decode(payload["data"])
        assert SECRET not in encoded.text

        decoded = await http.post(
            "/default/decode", json=encoded.json(), headers=headers(server.token)
        )
        assert decoded.status_code == 200, decoded.text
        assert decoded.json() == sent

    # the same format as the workers': their codec, built from the same setting, reads it
    workers_codec = EncryptionCodec(parse_keys(server.keys))
    read = await workers_codec.decode(json_format.ParseDict(encoded.json(), Payloads()).payloads)
    assert pydantic_data_converter.payload_converter.from_payloads(read) == [
        SECRET,
        {"tool": "lookup", "arguments": SECRET},
    ]
    code, logged = server.stop()
    assert code == 0
    assert "POST /encode" in logged
    assert "POST /default/decode" in logged
    assert server.token not in logged


async def test_without_a_valid_token_nothing_is_decoded(server: CodecServer) -> None:
    codec = EncryptionCodec(parse_keys(server.keys))
    encrypted = await codec.encode(pydantic_data_converter.payload_converter.to_payloads([SECRET]))
    body = json_format.MessageToDict(Payloads(payloads=encrypted))
    async with httpx.AsyncClient(base_url=server.url) as http:
        for sent in (
            headers(),
            headers("not-the-token"),
            headers(server.token[:-1]),
            {**headers(), "Authorization": f"Basic {server.token}"},
        ):
            for path in ("/decode", "/encode", "/default/decode"):
                refused = await http.post(path, json=body, headers=sent)
                assert refused.status_code == 401, (path, sent, refused.text)
                assert refused.json()["error"]["type"] == "unauthorized"
                assert "CODEC_SERVER_TOKENS" in refused.json()["error"]["message"]
                assert SECRET not in refused.text
                assert "payloads" not in refused.json()
        accepted = await http.post("/decode", json=body, headers=headers(server.token))
        assert accepted.status_code == 200
        assert json.loads(base64.b64decode(accepted.json()["payloads"][0]["data"])) == SECRET


async def test_an_unknown_key_id_is_a_400_that_names_it(
    server: CodecServer, settings: Settings
) -> None:
    other = EncryptionCodec(parse_keys(f"retired:{base64.b64encode(bytes(range(32))).decode()}"))
    encrypted = await other.encode(pydantic_data_converter.payload_converter.to_payloads([SECRET]))
    body = json_format.MessageToDict(Payloads(payloads=encrypted))
    async with httpx.AsyncClient(base_url=server.url) as http:
        refused = await http.post("/decode", json=body, headers=headers(server.token))
        assert refused.status_code == 400
        assert "'retired'" in refused.json()["error"]["message"]
        garbled = await http.post("/decode", content=b"{not json", headers=headers(server.token))
        assert garbled.status_code == 400


async def test_cors_answers_the_ui_origin_only(server: CodecServer) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    async with httpx.AsyncClient(base_url=server.url) as http:
        allowed = await http.options("/decode", headers={"Origin": UI, **preflight})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == UI
        assert allowed.headers["access-control-allow-credentials"] == "true"
        allowed_headers = allowed.headers["access-control-allow-headers"].lower()
        for header in ("authorization", "content-type", "x-namespace"):
            assert header in allowed_headers
        assert "POST" in allowed.headers["access-control-allow-methods"]

        other = await http.options(
            "/decode", headers={"Origin": "http://evil.example", **preflight}
        )
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers

        # the answers themselves carry the header, so the UI can read them (a 401 too)
        answered = await http.post(
            "/decode", json=ui_form(SECRET), headers=headers(server.token, UI)
        )
        assert answered.headers["access-control-allow-origin"] == UI
        refused = await http.post("/decode", json=ui_form(SECRET), headers=headers(None, UI))
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == UI
        stranger = await http.post(
            "/decode", json=ui_form(SECRET), headers=headers(server.token, "http://evil.example")
        )
        assert "access-control-allow-origin" not in stranger.headers


async def test_it_refuses_to_start_without_keys_or_tokens(
    settings: Settings, keys: str, token: tuple[str, str]
) -> None:
    no_tokens = await run_cli(settings, "codec-server", env={"PAYLOAD_ENCRYPTION_KEYS": keys})
    assert no_tokens.returncode == 2
    assert "error: CODEC_SERVER_TOKENS:" in no_tokens.stderr
    assert "--insecure-no-auth" in no_tokens.stderr

    no_keys = await run_cli(settings, "codec-server", env={"CODEC_SERVER_TOKENS": token[1]})
    assert no_keys.returncode == 2
    assert "error: PAYLOAD_ENCRYPTION_KEYS: not set" in no_keys.stderr
    insecure_without_keys = await run_cli(settings, "codec-server", "--insecure-no-auth")
    assert insecure_without_keys.returncode == 2
    assert "PAYLOAD_ENCRYPTION_KEYS" in insecure_without_keys.stderr

    bad_key = await run_cli(
        settings,
        "codec-server",
        env={"PAYLOAD_ENCRYPTION_KEYS": "k:c2hvcnQ=", "CODEC_SERVER_TOKENS": token[1]},
    )
    assert bad_key.returncode == 2
    assert "PAYLOAD_ENCRYPTION_KEYS: Value error, key 'k': 5 bytes, expected 32" in bad_key.stderr
    assert "Traceback" not in no_tokens.stderr + no_keys.stderr + bad_key.stderr


async def test_insecure_no_auth_serves_without_a_token_and_says_so(
    settings: Settings, servers: list[subprocess.Popen[str]], keys: str
) -> None:
    env = {"PAYLOAD_ENCRYPTION_KEYS": keys}
    url, process, started = spawn(settings, servers, env, "--insecure-no-auth")
    assert "codec server without authentication" in started
    async with httpx.AsyncClient(base_url=url) as http:
        encoded = await http.post("/encode", json=ui_form(SECRET), headers=headers())
        assert encoded.status_code == 200
        decoded = await http.post("/decode", json=encoded.json(), headers=headers())
        assert decoded.json() == ui_form(SECRET)
    process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(process.wait, 30) == 0


async def test_the_temporal_cli_reads_an_encrypted_history_through_it(
    server: CodecServer, settings: Settings, temporal_address: str
) -> None:
    keys = SecretStr(server.keys)
    codec_client = await connect(settings.model_copy(update={"payload_encryption_keys": keys}))
    request = RunRequest.model_validate(
        {"assistant_id": "asst_x", "messages": [{"content": SECRET}]}
    )
    handle = await start_run(codec_client, f"nobody-polls-{uuid.uuid4().hex}", request)
    try:
        show = [TEMPORAL_CLI, "workflow", "show", "-w", handle.id, "--address", temporal_address]
        show += ["--output", "json"]
        raw = await asyncio.to_thread(subprocess.run, show, capture_output=True, text=True)
        assert raw.returncode == 0, raw.stderr
        encoding, data = started_with(raw.stdout)
        assert (encoding, SECRET.encode() in data) == (b"binary/encrypted", False)

        endpoint = f"{server.url}/{{namespace}}"
        auth = f"Bearer {server.token}"
        through_codec = [*show, "--codec-endpoint", endpoint, "--codec-auth", auth]
        decoded = await asyncio.to_thread(
            subprocess.run, through_codec, capture_output=True, text=True
        )
        assert decoded.returncode == 0, decoded.stderr
        encoding, data = started_with(decoded.stdout)
        assert encoding == b"json/plain"
        assert json.loads(data)["messages"][0]["content"] == SECRET
    finally:
        await handle.terminate("test done")


def started_with(shown: str) -> tuple[bytes, bytes]:
    """The encoding and data of a workflow's input in `temporal workflow show --output json`."""
    started = json.loads(shown)["events"][0]["workflowExecutionStartedEventAttributes"]
    [payload] = started["input"]["payloads"]
    return base64.b64decode(payload["metadata"]["encoding"]), base64.b64decode(payload["data"])
