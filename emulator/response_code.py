"""The code interpreter on the Responses API: the container a response's call runs in, its
`code_interpreter_call` item, and the answer citing the files it wrote. No HTTP here.

A response calls the code interpreter when it answers (it makes no function calls), its tools
include `code_interpreter`, the user's message asks to compute or chart something
(emulator.code_interpreter.TRIGGER) and the container holds a file given by the user: the
tool's `container` is `{"type": "auto", "file_ids": [...]}` (a new container holding those files
is made for the response) or a container id. The call reads the container's latest user file,
mounted at `/mnt/data/<filename>`, and writes `chart.png` and `summary.csv` into the container
(source `assistant`). Its `outputs` (logs, and the chart as a `data:` URL) are returned only
when the request's `include` asks for `code_interpreter_call.outputs`, as on OpenAI.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from emulator import code_interpreter, containers
from emulator.errors import invalid
from emulator.store import JSON, Store, new_id

INCLUDE_OUTPUTS = "code_interpreter_call.outputs"
_CODE_CHUNK = 120
"""characters of code per `response.code_interpreter_call_code.delta`"""


@dataclass
class CodePlan:
    """Where a response's code interpreter call runs, once it is known that it makes one."""

    container_id: str
    include_outputs: bool


def plan(store: Store, request: JSON, user_text: str, answering: bool) -> CodePlan | None:
    """The response's code interpreter call, if it makes one. Given files must exist whether
    it does or not (OpenAI's 400); an auto container is made only for a call."""
    found = [
        (index, tool)
        for index, tool in enumerate(request.get("tools") or [])
        if tool["type"] == "code_interpreter"
    ]
    if not found:
        return None
    index, tool = found[0]
    container = tool["container"]
    param = f"tools[{index}].container"
    if isinstance(container, str):
        containers.find_container(store, container, param=param)
    else:
        for position, file_id in enumerate(container.get("file_ids") or []):
            if store.collection("files", "File").find(file_id) is None:
                raise invalid(
                    f"No such File object: {file_id}", param=f"{param}.file_ids[{position}]"
                )
    if not answering or not code_interpreter.wanted(user_text):
        return None
    include = INCLUDE_OUTPUTS in (request.get("include") or [])
    if isinstance(container, str):
        if not _user_files(store, container):
            return None
        return CodePlan(container, include)
    file_ids = container.get("file_ids") or []
    if not file_ids:
        return None
    made = containers.create_container(
        store,
        f"Container for code interpreter ({len(file_ids)} files)",
        file_ids,
        memory_limit=container.get("memory_limit"),
        param=f"{param}.file_ids",
    )
    return CodePlan(made["id"], include)


def _user_files(store: Store, container_id: str) -> list[JSON]:
    return [
        entry.public
        for entry in containers.files_of(store, container_id)
        if entry.public["source"] == "user"
    ]


@dataclass
class CodeResult:
    item: JSON
    """the `code_interpreter_call` item, completed"""
    answer: str
    annotations: list[JSON]
    """`container_file_citation`s of the generated files, within `answer`"""


def run(store: Store, code: CodePlan, user_text: str) -> CodeResult:
    """Run the emulated call in its container: the files it writes become container files."""
    container_id = code.container_id
    entry = next(
        (
            e
            for e in reversed(containers.files_of(store, container_id))
            if e.public["source"] == "user"
        ),
        None,
    )
    if entry is None:  # deleted since the response was created
        name, path, data = "(no file)", f"{containers.MOUNT}/", b""
    else:
        path, data = entry.public["path"], entry.private
        name = path.rsplit("/", 1)[-1]
    containers.touch(store, container_id)
    analysis = code_interpreter.analyse(name, path, data, user_text)
    store.counters.count("code_interpreter_calls")
    outputs: list[JSON] = [{"type": "logs", "logs": analysis.logs}]
    written: list[JSON] = []
    if analysis.chart is not None:
        written.append(
            containers.add_file(
                store, container_id, code_interpreter.CHART_PATH, analysis.chart, "assistant"
            )
        )
        url = "data:image/png;base64," + base64.b64encode(analysis.chart).decode()
        outputs.append({"type": "image", "url": url})
    if analysis.summary is not None:
        written.append(
            containers.add_file(
                store, container_id, code_interpreter.SUMMARY_PATH, analysis.summary, "assistant"
            )
        )
    item: JSON = {
        "id": new_id("ci_"),
        "type": "code_interpreter_call",
        "status": "completed",
        "container_id": container_id,
        "code": analysis.code,
        "outputs": outputs if code.include_outputs else None,
    }
    text, annotations = _cite(analysis.answer, container_id, written)
    return CodeResult(item, text, annotations)


def _cite(answer: str, container_id: str, written: list[JSON]) -> tuple[str, list[JSON]]:
    """The answer with a sandbox link per generated file, each cited by an annotation."""
    text = answer
    annotations: list[JSON] = []
    for index, file in enumerate(written):
        filename = file["path"].rsplit("/", 1)[-1]
        link = f"sandbox:{file['path']}"
        text += ("\n\n" if index == 0 else " ") + f"[{filename}]({link})"
        start = len(text) - len(link) - 1
        annotations.append(
            {
                "type": "container_file_citation",
                "container_id": container_id,
                "file_id": file["id"],
                "filename": filename,
                "start_index": start,
                "end_index": start + len(link),
            }
        )
    return text, annotations


def code_events(item: JSON) -> list[tuple[str, JSON]]:
    """The events between the item's `output_item.added` and `.done`, without `item_id` and
    `output_index`: in progress, the code in pieces, interpreting, completed."""
    code = item["code"] or ""
    found: list[tuple[str, JSON]] = [("response.code_interpreter_call.in_progress", {})]
    for start in range(0, len(code), _CODE_CHUNK):
        piece = code[start : start + _CODE_CHUNK]
        found.append(("response.code_interpreter_call_code.delta", {"delta": piece}))
    found += [
        ("response.code_interpreter_call_code.done", {"code": code}),
        ("response.code_interpreter_call.interpreting", {}),
        ("response.code_interpreter_call.completed", {}),
    ]
    return found
