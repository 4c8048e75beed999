"""Recorded histories still replay: the workflow code stays deterministic and compatible with
executions already in flight (`make record-histories` records new scenarios).
`ingest_before_already_in_store` was recorded by the code before `ingest.add_new_files` (an
ingest whose first file is indexed on a second attempt)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workers.worker import WORKFLOWS

FOLDER = Path(__file__).with_name("histories")
HISTORIES = sorted(p for p in FOLDER.glob("*.json") if p.name != "workflow_ids.json")
WORKFLOW_IDS: dict[str, str] = json.loads((FOLDER / "workflow_ids.json").read_text())


def test_every_workflow_type_has_histories_to_replay() -> None:
    started = [json.loads(path.read_text())["events"][0] for path in HISTORIES]
    types = {
        event["workflowExecutionStartedEventAttributes"]["workflowType"]["name"]
        for event in started
    }
    assert types == {"AssistantRun", "AssistantThread", "VectorStoreIngest", "Cleanup"}


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    workflow_id = WORKFLOW_IDS.get(path.stem, path.stem)
    history = WorkflowHistory.from_json(workflow_id, path.read_text())
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
