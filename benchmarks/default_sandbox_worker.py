"""`durable-assistants worker` running its workflows in the SDK's default sandbox instead of
outside it (`workers.worker.WORKFLOW_RUNNER`), the baseline `benchmarks.runs_bench
--compare-sandbox` measures beside it:

    python -m benchmarks.default_sandbox_worker   # same environment as the worker
"""

from __future__ import annotations

import sys

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

import workers.worker
from workers.cli import main

if __name__ == "__main__":
    workers.worker.WORKFLOW_RUNNER = SandboxedWorkflowRunner()
    sys.argv = ["durable-assistants", "worker"]
    main()
