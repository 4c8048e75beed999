"""`durable-assistants worker` with the SDK's default sandbox instead of `sandbox_runner`'s, the
baseline `benchmarks.runs_bench --compare-sandbox` measures beside it:

    python -m benchmarks.default_sandbox_worker   # same environment as the worker
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

import workers.worker
from workers.cli import main


def default_runner(workflows: Sequence[type]) -> SandboxedWorkflowRunner:
    del workflows
    return SandboxedWorkflowRunner()


if __name__ == "__main__":
    workers.worker.sandbox_runner = default_runner
    sys.argv = ["durable-assistants", "worker"]
    main()
