"""Recorded histories still replay: the workflow code stays deterministic and compatible with
executions already in flight (`make record-histories` records new scenarios). They replay in
the SDK's sandbox, which refuses non-deterministic calls (the clock, randomness, I/O) in
workflow code: workers run workflows outside it (`workers.worker.WORKFLOW_RUNNER`), so this is
where such a call is caught.
Every history was recorded by 0.2.0 (the cut: see CHANGELOG.md); those in `retired/` were
recorded before it and no longer replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import NondeterminismError

from workers.worker import WORKFLOWS
from workflows.contracts import RunRequest, RunResult
from workflows.run.progress import TextDelta, TextDone
from workflows.run.workflow import AssistantRun

FOLDER = Path(__file__).with_name("histories")
RETIRED = Path(__file__).with_name("retired")
HISTORIES = sorted(p for p in FOLDER.glob("*.json") if p.name != "workflow_ids.json")
WORKFLOW_IDS: dict[str, str] = json.loads((FOLDER / "workflow_ids.json").read_text())


def test_every_workflow_type_has_histories_to_replay() -> None:
    started = [json.loads(path.read_text())["events"][0] for path in HISTORIES]
    types = {
        event["workflowExecutionStartedEventAttributes"]["workflowType"]["name"]
        for event in started
    }
    assert types == {
        "AssistantRun",
        "AssistantThread",
        "VectorStoreIngest",
        "Cleanup",
        "TokenWindow",
    }


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    workflow_id = WORKFLOW_IDS.get(path.stem, path.stem)
    history = WorkflowHistory.from_json(workflow_id, path.read_text())
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=SandboxedWorkflowRunner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


@pytest.mark.parametrize(
    ("name", "workflow_id", "refused"),
    [
        ("plain", "replay-plain", "UpsertWorkflowSearchAttributes"),
        ("run_of_0.1", "replay-history_responses_one_round", "patch marker"),
        ("ingest_of_0.1", "replay-ingest-40407700", "patch marker"),
    ],
)
async def test_an_execution_begun_before_the_cut_no_longer_replays(
    name: str, workflow_id: str, refused: str
) -> None:
    """The compatibility boundaries CHANGELOG states: executions begun before 0.2.0 (and the
    runs begun before 2026-11-26 09:44, before that) finish on the build that began them."""
    history = WorkflowHistory.from_json(workflow_id, RETIRED.joinpath(f"{name}.json").read_text())
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    with pytest.raises(NondeterminismError, match=refused):
        await replayer.replay_workflow(history)


STREAMED = [p for p in HISTORIES if "streamed" in p.stem]


@workflow.defn(name="AssistantRun", sandboxed=False)
class AssistantRunCheckingItsProgress(AssistantRun):
    """AssistantRun that, replayed to its end, checks the progress log it rebuilt."""

    @workflow.run
    async def run(self, request: RunRequest) -> RunResult:
        result = await super().run(request)
        streamed = [e for e in self.log.events if isinstance(e, TextDelta)]
        done = [e for e in self.log.events if isinstance(e, TextDone)]
        if len(streamed) < 2 or not done:
            raise RuntimeError(f"expected the text in several deltas: {self.log.events}")
        for message in done:
            text = "".join(e.delta for e in streamed if e.message_id == message.message_id)
            if text != message.text:
                raise RuntimeError(f"deltas {text!r} != text {message.text!r}")
        return result


@pytest.mark.parametrize("path", STREAMED, ids=[p.stem for p in STREAMED])
async def test_a_replayed_streamed_run_rebuilds_its_progress_with_the_text_once(
    path: Path,
) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(
        workflows=[AssistantRunCheckingItsProgress], data_converter=pydantic_data_converter
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None
