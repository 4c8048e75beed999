"""The code interpreter on the Assistants API: which file a run analyses, the files the call
generates, its run step's tool call and stream deltas, and the answer that shows the chart and
links the summary. The run engine places these in the run; no HTTP here.

A run calls the code interpreter when its tools include `code_interpreter`, its last user
message asks to compute or chart something (emulator.code_interpreter.TRIGGER) and a file is
there for the tool: attached to that message for `code_interpreter` (the latest attachment
first), else in the thread's, else the assistant's `tool_resources.code_interpreter.file_ids`.
The file is mounted at `/mnt/data/<file_id>`, as on OpenAI.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator import code_interpreter, files
from emulator.store import JSON, Store, new_id

_CODE_CHUNK = 120
"""characters of code per `thread.run.step.delta`"""


@dataclass
class CodeCall:
    """One code interpreter call as the run step shows it, and what it generated."""

    call_id: str
    code: str
    logs: str
    answer: str
    image_file_id: str | None = None
    summary_file_id: str | None = None
    outputs: list[JSON] = field(default_factory=list)


def file_to_analyse(
    store: Store, tools: list[JSON], user_text: str, sources: list[JSON]
) -> str | None:
    """The file the run's code interpreter call reads, if the run makes one. `sources` are the
    last user message, the thread and the assistant, in that order of preference."""
    if not any(tool["type"] == "code_interpreter" for tool in tools):
        return None
    if not code_interpreter.wanted(user_text):
        return None
    message, *owners = sources
    candidates = [
        a["file_id"]
        for a in reversed(message.get("attachments") or [])
        if any(tool["type"] == "code_interpreter" for tool in a.get("tools", []))
    ]
    for owner in owners:
        resources = owner.get("tool_resources") or {}
        candidates += (resources.get("code_interpreter") or {}).get("file_ids", [])
    if not candidates:
        return None
    present = [str(file_id) for file_id in candidates if files.find(store, file_id)]
    return present[0] if present else str(candidates[0])


def call(store: Store, file_id: str, user_text: str) -> CodeCall:
    """Run the emulated call over `file_id`: its generated files become real Files objects."""
    stored = files.find(store, file_id)
    path = f"/mnt/data/{file_id}"
    if stored is None:
        name, data = file_id, b""
    else:
        name, data = stored["filename"], files.content(store, file_id)
    analysis = code_interpreter.analyse(name, path, data, user_text)
    store.counters.count("code_interpreter_calls")
    made = CodeCall(new_id("call_"), analysis.code, analysis.logs, analysis.answer)
    made.outputs.append({"type": "logs", "logs": analysis.logs})
    if analysis.chart is not None:
        image = files.add_file(
            store, code_interpreter.CHART_PATH, analysis.chart, "assistants_output"
        )
        made.image_file_id = image["id"]
        made.outputs.append({"type": "image", "image": {"file_id": image["id"]}})
    if analysis.summary is not None:
        summary = files.add_file(
            store, code_interpreter.SUMMARY_PATH, analysis.summary, "assistants_output"
        )
        made.summary_file_id = summary["id"]
    return made


def tool_call(made: CodeCall) -> JSON:
    """The step's tool call once the code has run."""
    return {
        "id": made.call_id,
        "type": "code_interpreter",
        "code_interpreter": {"input": made.code, "outputs": made.outputs},
    }


def step_deltas(made: CodeCall) -> list[JSON]:
    """`step_details` of each `thread.run.step.delta`: the call, its code in pieces, then its
    outputs."""

    def details(call_delta: JSON) -> JSON:
        return {"type": "tool_calls", "tool_calls": [{"index": 0, **call_delta}]}

    found = [
        details(
            {
                "id": made.call_id,
                "type": "code_interpreter",
                "code_interpreter": {"input": "", "outputs": []},
            }
        )
    ]
    for start in range(0, len(made.code), _CODE_CHUNK):
        piece = made.code[start : start + _CODE_CHUNK]
        found.append(details({"type": "code_interpreter", "code_interpreter": {"input": piece}}))
    outputs = [{"index": index, **output} for index, output in enumerate(made.outputs)]
    found.append(details({"type": "code_interpreter", "code_interpreter": {"outputs": outputs}}))
    return found


def answer(made: CodeCall) -> tuple[str, list[JSON]]:
    """The answer's text and its `file_path` annotation for the summary, if one was written."""
    text = made.answer
    if made.summary_file_id is None:
        return text, []
    link = f"sandbox:{code_interpreter.SUMMARY_PATH}"
    text += f"\n\n[Download summary.csv]({link})"
    start = text.index(link)
    return text, [
        {
            "type": "file_path",
            "text": link,
            "start_index": start,
            "end_index": start + len(link),
            "file_path": {"file_id": made.summary_file_id},
        }
    ]
