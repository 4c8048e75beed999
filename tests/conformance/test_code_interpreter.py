"""The code interpreter through the official SDK, on both APIs, polled and streamed: the code,
the logs with the real sums of examples/sales.csv, the generated PNG and CSV as real files,
their annotations, containers and their files; every object and raw event checked against the
spec, and file downloads counted per file."""

from __future__ import annotations

import csv
import io
import struct
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from openai import OpenAI
from openai.types import FileObject

from emulator import png
from emulator.server import BackgroundEmulator
from tests.conformance.conftest import assert_schema
from tests.conformance.sse import parse_events

SALES = Path(__file__).parents[2] / "examples" / "sales.csv"
CODE: Any = {"type": "code_interpreter"}
ASK = "Chart the totals by month"
POLL_MS = 10


def _totals() -> tuple[int, int, dict[str, tuple[int, float]]]:
    rows = list(csv.DictReader(io.StringIO(SALES.read_text())))
    by_month: dict[str, tuple[int, float]] = {}
    for row in rows:
        units, revenue = by_month.get(row["month"], (0, 0.0))
        by_month[row["month"]] = (units + int(row["units"]), revenue + float(row["revenue"]))
    return len(rows), sum(int(r["units"]) for r in rows), by_month


def _check_png(data: bytes) -> None:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (png.WIDTH, png.HEIGHT)


def _check_summary(data: bytes) -> None:
    _, _, by_month = _totals()
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[0] == ["month", "units", "revenue"]
    assert {r[0]: (int(r[1]), float(r[2])) for r in rows[1:]} == {
        month: (units, round(revenue, 2)) for month, (units, revenue) in by_month.items()
    }


def _check_logs(logs: str) -> None:
    rows, units, by_month = _totals()
    assert f"rows: {rows}, columns: 4 (month, region, units, revenue)" in logs
    assert f"units    {units}\n" in logs
    assert "totals by month:" in logs
    assert all(month in logs for month in by_month)


def upload(client: OpenAI, name: str = "sales.csv", data: bytes | None = None) -> FileObject:
    content = SALES.read_bytes() if data is None else data
    return client.files.create(file=(name, content), purpose="assistants")


def raw(emulator: BackgroundEmulator, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": "Bearer sk-x", "OpenAI-Beta": "assistants=v2"}
    return httpx.request(method, emulator.base_url + path, headers=headers, **kwargs)


def raw_stream(emulator: BackgroundEmulator, path: str, body: dict[str, Any]) -> list[Any]:
    headers = {"Authorization": "Bearer sk-x", "OpenAI-Beta": "assistants=v2"}
    with httpx.stream(
        "POST", emulator.base_url + path, json={**body, "stream": True}, headers=headers
    ) as response:
        return parse_events(response.iter_lines())


# Assistants API


def _thread_run(
    client: OpenAI, file_id: str, text: str = ASK, tools: list[Any] | None = None
) -> Any:
    assistant = client.beta.assistants.create(model="gpt-4o", tools=tools or [CODE])
    message: Any = {
        "role": "user",
        "content": text,
        "attachments": [{"file_id": file_id, "tools": [CODE]}],
    }
    thread = client.beta.threads.create(messages=[message])
    return client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )


def test_assistants_run_shows_code_logs_chart_and_summary(
    client: OpenAI, counters: Any, emulator: BackgroundEmulator
) -> None:
    sales = upload(client)
    run = _thread_run(client, sales.id)
    assert run.status == "completed"
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id, order="asc")
    assert [s.type for s in steps.data] == ["tool_calls", "message_creation"]
    call: Any = steps.data[0].step_details.tool_calls[0]  # type: ignore[union-attr]
    assert call.type == "code_interpreter"
    assert f"pd.read_csv('/mnt/data/{sales.id}')" in call.code_interpreter.input
    logs, image = call.code_interpreter.outputs
    assert logs.type == "logs"
    assert image.type == "image"
    _check_logs(logs.logs)

    message: Any = client.beta.threads.messages.list(run.thread_id, run_id=run.id).data[0]
    picture, text = message.content
    assert picture.type == "image_file"
    assert picture.image_file.file_id == image.image.file_id
    assert text.type == "text"
    assert "sandbox:/mnt/data/summary.csv" in text.text.value
    (annotation,) = text.text.annotations
    assert annotation.type == "file_path"
    assert text.text.value[annotation.start_index : annotation.end_index] == annotation.text
    assert annotation.text == "sandbox:/mnt/data/summary.csv"

    chart = client.files.retrieve(image.image.file_id)
    summary = client.files.retrieve(annotation.file_path.file_id)
    assert (chart.purpose, summary.purpose) == ("assistants_output", "assistants_output")
    assert (chart.filename, summary.filename) == ("/mnt/data/chart.png", "/mnt/data/summary.csv")
    before = counters()
    _check_png(client.files.content(chart.id).read())
    _check_summary(client.files.content(summary.id).read())
    after = counters()
    for file_id in (chart.id, summary.id):
        was = before.get("file_downloads", {}).get(file_id, 0)
        assert after["file_downloads"][file_id] == was + 1
    key = "GET /v1/files/{file_id}/content 200"
    assert after["requests"][key] == before["requests"].get(key, 0) + 2
    listed = raw(emulator, "GET", f"/threads/{run.thread_id}/runs/{run.id}/steps").json()
    assert listed["data"][1]["step_details"]["tool_calls"][0]["type"] == "code_interpreter"


def test_assistants_stream_events_match_the_spec(
    client: OpenAI, emulator: BackgroundEmulator
) -> None:
    sales = upload(client)
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[CODE])
    message: Any = {
        "role": "user",
        "content": "plot the revenue by month",
        "attachments": [{"file_id": sales.id, "tools": [CODE]}],
    }
    events = raw_stream(
        emulator,
        "/threads/runs",
        {"assistant_id": assistant.id, "thread": {"messages": [message]}},
    )
    for event in events:
        assert_schema("AssistantStreamEvent", event)
    names = [e["event"] for e in events]
    assert names[-2:] == ["thread.run.completed", "done"]
    deltas = [e["data"]["delta"] for e in events if e["event"] == "thread.run.step.delta"]
    calls = [d["step_details"]["tool_calls"][0]["code_interpreter"] for d in deltas]
    code = "".join(c.get("input", "") for c in calls)
    assert len([c for c in calls if c.get("input")]) > 1  # the code arrives in pieces
    assert calls[-1]["outputs"][0]["type"] == "logs"
    _check_logs(calls[-1]["outputs"][0]["logs"])
    completed = [e["data"] for e in events if e["event"] == "thread.run.step.completed"]
    final = completed[0]["step_details"]["tool_calls"][0]["code_interpreter"]
    assert final["input"] == code
    assert "measure = 'revenue'" in code
    message_deltas = [e["data"]["delta"] for e in events if e["event"] == "thread.message.delta"]
    assert message_deltas[0]["content"][0]["type"] == "image_file"
    noted = [
        p["text"]["annotations"]
        for d in message_deltas
        for p in d["content"]
        if p["type"] == "text" and p["text"].get("annotations")
    ]
    assert noted[0][0]["type"] == "file_path"

    # The SDK's own stream helper accumulates the same message.
    thread = client.beta.threads.create(messages=[message])
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as s:
        s.until_done()
        (done,) = s.get_final_messages()
    assert [part.type for part in done.content] == ["image_file", "text"]


def test_assistants_files_from_tool_resources(client: OpenAI) -> None:
    sales = upload(client)
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[CODE],
        tool_resources={"code_interpreter": {"file_ids": [sales.id]}},
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "sum the units"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data
    call: Any = steps[0].step_details.tool_calls[0]  # type: ignore[union-attr]
    assert "measure = 'units'" in call.code_interpreter.input


def test_no_code_interpreter_step_without_the_tool(client: OpenAI, counters: Any) -> None:
    sales = upload(client)
    before = counters().get("code_interpreter_calls", {}).get("total", 0)
    run = _thread_run(client, sales.id, tools=[{"type": "file_search"}])
    assert run.status == "completed"
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id).data
    assert [s.type for s in steps] == ["message_creation"]
    assert counters().get("code_interpreter_calls", {}).get("total", 0) == before


def test_no_code_interpreter_step_for_a_message_that_asks_nothing(client: OpenAI) -> None:
    run = _thread_run(client, upload(client).id, text="Hello there")
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id).data
    assert [s.type for s in steps] == ["message_creation"]


@pytest.mark.parametrize(
    ("name", "data", "said"),
    [
        ("chart.png", png.bar_chart([1.0, 2.0]), "cannot parse chart.png as CSV"),
        ("empty.csv", b"", "EmptyDataError"),
        ("header.csv", b"month,units\n", "no rows: nothing to sum or chart"),
    ],
)
def test_assistants_unchartable_files_say_so_and_make_no_chart(
    client: OpenAI, name: str, data: bytes, said: str
) -> None:
    run = _thread_run(client, upload(client, name, data).id)
    assert run.status == "completed"
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id, order="asc").data
    call: Any = steps[0].step_details.tool_calls[0]  # type: ignore[union-attr]
    (logs,) = call.code_interpreter.outputs
    assert said in logs.logs
    message = client.beta.threads.messages.list(run.thread_id, run_id=run.id).data[0]
    assert [part.type for part in message.content] == ["text"]
    assert message.content[0].text.annotations == []  # type: ignore[union-attr]


# Responses API


def _ci_tool(file_ids: list[str]) -> Any:
    return {"type": "code_interpreter", "container": {"type": "auto", "file_ids": file_ids}}


def test_response_with_an_auto_container(client: OpenAI, counters: Any) -> None:
    sales = upload(client)
    response = client.responses.create(
        model="gpt-4o",
        input=ASK,
        tools=[_ci_tool([sales.id])],
        include=["code_interpreter_call.outputs"],
    )
    assert response.status == "completed"
    call, message = response.output
    assert call.type == "code_interpreter_call"
    assert message.type == "message"
    assert call.container_id.startswith("cntr_")
    assert "pd.read_csv('/mnt/data/sales.csv')" in (call.code or "")
    logs, image = call.outputs or []
    assert logs.type == "logs"
    assert image.type == "image"
    _check_logs(logs.logs)
    assert image.url.startswith("data:image/png;base64,")

    text = message.content[0]
    assert text.type == "output_text"
    cited: dict[str, Any] = {a.filename: a for a in text.annotations}  # type: ignore[union-attr]
    assert sorted(cited) == ["chart.png", "summary.csv"]
    for annotation in cited.values():
        assert annotation.type == "container_file_citation"
        assert annotation.container_id == call.container_id
        span = text.text[annotation.start_index : annotation.end_index]
        assert span == f"sandbox:/mnt/data/{annotation.filename}"

    container = client.containers.retrieve(call.container_id)
    assert container.status == "running"
    files = client.containers.files.list(call.container_id, order="asc").data
    assert [(f.path, f.source) for f in files] == [
        ("/mnt/data/sales.csv", "user"),
        ("/mnt/data/chart.png", "assistant"),
        ("/mnt/data/summary.csv", "assistant"),
    ]
    one = client.containers.files.retrieve(cited["chart.png"].file_id, container_id=container.id)
    assert one.bytes > 0
    before = counters()
    chart = client.containers.files.content.retrieve(
        cited["chart.png"].file_id, container_id=container.id
    ).read()
    summary = client.containers.files.content.retrieve(
        cited["summary.csv"].file_id, container_id=container.id
    ).read()
    _check_png(chart)
    _check_summary(summary)
    after = counters()
    for annotation in cited.values():
        was = before.get("container_file_downloads", {}).get(annotation.file_id, 0)
        assert after["container_file_downloads"][annotation.file_id] == was + 1
    key = "GET /v1/containers/{container_id}/files/{file_id}/content 200"
    assert after["requests"][key] == before["requests"].get(key, 0) + 2


def test_outputs_only_when_included(client: OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4o", input=ASK, tools=[_ci_tool([upload(client).id])]
    )
    call = response.output[0]
    assert call.type == "code_interpreter_call"
    assert call.outputs is None
    assert call.code


def test_response_in_an_explicit_container(client: OpenAI) -> None:
    sales = upload(client)
    container = client.containers.create(name="sales", file_ids=[sales.id])
    response = client.responses.create(
        model="gpt-4o",
        input="analyse the revenue",
        tools=[{"type": "code_interpreter", "container": container.id}],
    )
    call = response.output[0]
    assert call.type == "code_interpreter_call"
    assert call.container_id == container.id
    names = [f.path for f in client.containers.files.list(container.id).data]
    assert sorted(names) == ["/mnt/data/chart.png", "/mnt/data/sales.csv", "/mnt/data/summary.csv"]
    listed = [c.id for c in client.containers.list(limit=100)]
    assert container.id in listed
    client.containers.delete(container.id)
    with pytest.raises(Exception, match="not found"):
        client.containers.retrieve(container.id)


def test_response_stream_events_match_the_spec(
    client: OpenAI, emulator: BackgroundEmulator
) -> None:
    sales = upload(client)
    events = raw_stream(
        emulator,
        "/responses",
        {
            "model": "gpt-4o",
            "input": ASK,
            "tools": [_ci_tool([sales.id])],
            "include": ["code_interpreter_call.outputs"],
        },
    )
    for event in events:
        assert_schema("ResponseStreamEvent", event["data"])
    names = [e["event"] for e in events]
    ci = [n for n in names if "code_interpreter" in n]
    assert ci[0] == "response.code_interpreter_call.in_progress"
    assert ci[-3:] == [
        "response.code_interpreter_call_code.done",
        "response.code_interpreter_call.interpreting",
        "response.code_interpreter_call.completed",
    ]
    deltas = [e["data"]["delta"] for e in events if e["event"].endswith("_code.delta")]
    assert len(deltas) > 1
    done = next(e["data"] for e in events if e["event"].endswith("_code.done"))
    assert "".join(deltas) == done["code"]
    added = [e["data"]["item"]["type"] for e in events if e["event"].endswith("item.added")]
    assert added == ["code_interpreter_call", "message"]
    cited = [e["data"]["annotation"] for e in events if e["event"].endswith("annotation.added")]
    assert [a["filename"] for a in cited] == ["chart.png", "summary.csv"]
    final = events[-1]["data"]["response"]
    assert final["status"] == "completed"
    _check_logs(final["output"][0]["outputs"][0]["logs"])


def test_response_edges(client: OpenAI, counters: Any) -> None:
    sales = upload(client)
    before = counters().get("containers_created", {}).get("total", 0)
    plain = client.responses.create(model="gpt-4o", input=ASK)
    assert [item.type for item in plain.output] == ["message"]
    asked_nothing = client.responses.create(
        model="gpt-4o", input="Hello", tools=[_ci_tool([sales.id])]
    )
    assert [item.type for item in asked_nothing.output] == ["message"]
    assert counters().get("containers_created", {}).get("total", 0) == before
    binary = upload(client, "photo.png", png.bar_chart([3.0]))
    response = client.responses.create(
        model="gpt-4o",
        input=ASK,
        tools=[_ci_tool([binary.id])],
        include=["code_interpreter_call.outputs"],
    )
    call: Any
    message: Any
    call, message = response.output
    assert call.type == "code_interpreter_call"
    (logs,) = call.outputs or []
    assert "cannot parse photo.png as CSV" in logs.logs
    assert message.content[0].annotations == []
    files = client.containers.files.list(call.container_id).data
    assert [f.source for f in files] == ["user"]
    with pytest.raises(Exception, match="No such File object"):
        client.responses.create(model="gpt-4o", input=ASK, tools=[_ci_tool(["file-nope"])])
