"""The JSON Schema of every workflow contract, for services in other languages."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from workflows.contracts import (
    ApprovalDecision,
    CancelRequest,
    CleanupPolicy,
    CleanupReport,
    CloseThread,
    ConfigureThread,
    IngestProgress,
    IngestRequest,
    IngestResult,
    RunRequest,
    RunResult,
    RunState,
    SubmitToolOutputsRequest,
    ThreadConfig,
    ThreadMessage,
    ThreadState,
)
from workflows.run.progress import ProgressBatch, ProgressPage, ProgressRequest

CONTRACTS: dict[str, dict[str, Any]] = {
    "AssistantRun": {
        "input": RunRequest,
        "output": RunResult,
        "queries": {
            "state": RunState,
            "progress": {"input": ProgressRequest, "output": ProgressPage},
        },
        "updates": {
            "cancel": {"input": CancelRequest, "output": RunState},
            "submit_tool_outputs": {"input": SubmitToolOutputsRequest, "output": None},
            "decide_approval": {"input": ApprovalDecision, "output": RunState},
        },
        "signals": {"publish_progress": ProgressBatch},
    },
    "AssistantThread": {
        "input": ThreadConfig,
        "output": ThreadState,
        "queries": {"state": ThreadState},
        "updates": {
            "send_message": {"input": ThreadMessage, "output": RunResult},
            "cancel_current_run": {"input": None, "output": str | None},
            "close": {"input": CloseThread, "output": ThreadState},
            "configure": {"input": ConfigureThread, "output": ThreadState},
        },
        "signals": {"post_message": ThreadMessage},
    },
    "VectorStoreIngest": {
        "input": IngestRequest,
        "output": IngestResult,
        "queries": {"progress": IngestProgress},
    },
    "Cleanup": {"input": CleanupPolicy, "output": CleanupReport},
}


def contract_schemas() -> dict[str, Any]:
    """CONTRACTS with every type replaced by its JSON Schema."""
    schemas: dict[str, Any] = _schemas(CONTRACTS)
    return schemas


def _schemas(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _schemas(value) for key, value in node.items()}
    if node is None:
        return None
    if isinstance(node, type) and issubclass(node, BaseModel):
        return node.model_json_schema()
    return TypeAdapter(node).json_schema()
