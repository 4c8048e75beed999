"""Contract evolution rules: what callers send fails fast on unknown fields; what this
system's own code exchanges (step payloads, query and workflow results, carries) ignores
them, so old and new versions read each other's payloads during a rolling deploy."""

from __future__ import annotations

import inspect

import pytest
from pydantic import BaseModel, ValidationError
from pydantic.dataclasses import is_pydantic_dataclass

from workflows import contracts
from workflows.cleanup import steps as cleanup_steps
from workflows.common import Carrier, Contract, Record
from workflows.ingest import steps as ingest_steps
from workflows.run import steps as run_steps
from workflows.thread import steps as thread_steps
from workflows.thread.contracts import ThreadConfig

CALLER_INPUTS = {
    "ApprovalDecision",
    "AssistantSpec",
    "Attachment",
    "CancelRequest",
    "CloseThread",
    "ConfigureThread",
    "IngestFile",
    "IngestRequest",
    "InputMessage",
    "PromptReference",
    "RunTimeouts",
    "SubmitToolOutputsRequest",
    "ThreadMessage",
    "ToolOutputSubmission",
    "VectorStoreSpec",
}


CARRIERS = {"RunRequest", "ThreadConfig", "CleanupPolicy"}
"""Callers' inputs that continue-as-new also carries."""


def models() -> dict[str, type[BaseModel]]:
    found = {}
    for module in (contracts, run_steps, thread_steps, ingest_steps, cleanup_steps):
        for name, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseModel) and value.__module__.startswith("workflows."):
                found[name] = value
    return found


def test_every_payload_is_either_a_callers_input_or_a_record() -> None:
    lean = set()  # pydantic dataclasses: callers' inputs sent by the thousand
    for name, value in inspect.getmembers(contracts, inspect.isclass):
        if is_pydantic_dataclass(value) and value.__module__.startswith("workflows."):
            assert name in CALLER_INPUTS, f"{name}: only callers' inputs are dataclasses"
            assert value.__pydantic_config__.get("extra") == "forbid", name
            lean.add(name)
    assert set(models()) | lean >= CALLER_INPUTS | CARRIERS, "a caller's input is gone"
    for name, model in models().items():
        if name in CALLER_INPUTS:
            assert issubclass(model, Contract), name
            assert not issubclass(model, Carrier), name
        elif name in CARRIERS:
            assert issubclass(model, Carrier), name
        else:
            assert issubclass(model, Record), f"{name}: a payload our own code exchanges"


def test_a_record_from_a_newer_version_is_read_without_its_new_fields() -> None:
    snapshot = run_steps.RunSnapshot.model_validate(
        {"thread_id": "thread_1", "status": "completed", "added_in_v2": {"x": 1}}
    )
    assert snapshot.status == "completed"
    assert "added_in_v2" not in snapshot.model_dump()


def test_a_callers_misspelt_field_is_an_error() -> None:
    with pytest.raises(ValidationError, match="mesages"):
        contracts.RunRequest.model_validate({"assistant_id": "asst_1", "mesages": []})
    with pytest.raises(ValidationError, match="idle_timeout"):
        ThreadConfig.model_validate({"key": "k", "assistant_id": "a", "idle_timeout": 5})
    with pytest.raises(ValidationError, match=r"files\.1\.paht"):  # a dataclass, not a model
        contracts.IngestRequest.model_validate(
            {"vector_store": {"name": "docs"}, "files": [{"path": "a.md"}, {"paht": "b.md"}]}
        )


def test_a_carry_from_a_newer_version_is_read_and_an_old_carry_too() -> None:
    queued = {"id": 2, "answered_by_update": False, "message": {"content": "Hi", "tone": "warm"}}
    carry = {"thread_id": "thread_1", "queue": [queued], "next_message_id": 3, "runs_done": 2}
    newer = {
        "key": "k",
        "assistant_id": "asst_1",
        "added_in_v2": True,
        "carried": {**carry, "recent": [], "added_in_v2": 1},
    }
    carried_newer = ThreadConfig.model_validate(newer).carried
    assert carried_newer is not None
    assert carried_newer.queue[0].message.content == "Hi", "a newer message field is dropped"
    assert carried_newer.next_message_id == 3
    older = {"key": "k", "assistant_id": "asst_1", "carried": {**carry, "recent": []}}
    carried = ThreadConfig.model_validate(older).carried
    assert carried is not None
    assert carried.refused_messages == 0


def test_a_run_carried_by_a_newer_version_is_read_and_a_callers_typo_is_not() -> None:
    base = {"assistant_id": "asst_1", "messages": [{"content": "Hi"}]}
    carried = contracts.RunRequest.model_validate({**base, "carried": {}, "added_in_v2": 1})
    assert carried.carried == {}
    with pytest.raises(ValidationError, match="added_in_v2"):
        contracts.RunRequest.model_validate({**base, "added_in_v2": 1})
