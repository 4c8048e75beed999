"""Every public contract in one import, for callers: `from workflows.contracts import RunRequest`.

Each is defined beside its workflow (`workflows/<workflow>/contracts.py`); shared pieces live
in `workflows/common.py`. Their JSON shapes are a public API (`durable-assistants schema`).
"""

from workflows.cleanup.contracts import CleanupItem, CleanupPolicy, CleanupReport
from workflows.common import (
    Attachment,
    RunError,
    RunPhase,
    RunTimeouts,
    ToolCall,
    ToolCallResult,
    ToolOutput,
    ToolOutputSubmission,
)
from workflows.ingest.contracts import (
    FileOutcome,
    IngestFile,
    IngestProgress,
    IngestRequest,
    IngestResult,
    VectorStoreSpec,
)
from workflows.run.contracts import (
    ApprovalDecision,
    AssistantSpec,
    CancelRequest,
    InputMessage,
    RunRequest,
    SubmitToolOutputsRequest,
    ToolReference,
)
from workflows.run.outcome import (
    CodeInterpreterCall,
    GeneratedFile,
    RunMessage,
    RunResult,
    RunState,
)
from workflows.run.steps import ToolRetry
from workflows.thread.contracts import (
    CloseThread,
    ConfigureThread,
    QueuedMessage,
    RunSummary,
    ThreadCarry,
    ThreadConfig,
    ThreadMessage,
    ThreadState,
)

__all__ = [
    "ApprovalDecision",
    "AssistantSpec",
    "Attachment",
    "CancelRequest",
    "CleanupItem",
    "CleanupPolicy",
    "CleanupReport",
    "CloseThread",
    "CodeInterpreterCall",
    "ConfigureThread",
    "FileOutcome",
    "GeneratedFile",
    "IngestFile",
    "IngestProgress",
    "IngestRequest",
    "IngestResult",
    "InputMessage",
    "QueuedMessage",
    "RunError",
    "RunMessage",
    "RunPhase",
    "RunRequest",
    "RunResult",
    "RunState",
    "RunSummary",
    "RunTimeouts",
    "SubmitToolOutputsRequest",
    "ThreadCarry",
    "ThreadConfig",
    "ThreadMessage",
    "ThreadState",
    "ToolCall",
    "ToolCallResult",
    "ToolOutput",
    "ToolOutputSubmission",
    "ToolReference",
    "ToolRetry",
    "VectorStoreSpec",
]
