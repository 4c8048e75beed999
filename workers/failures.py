"""What a workflow's failure says, in the words of whoever raised it: the CLI prints it, the
HTTP gateway answers with it."""

from __future__ import annotations

from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ActivityError, ChildWorkflowError, FailureError

_WRAPPERS = (ActivityError, ChildWorkflowError)
_HINTS = (
    ("no registered tool named", "`durable-assistants tools list` shows the registered tools"),
    (
        "No assistant found",
        "check --assistant-id against OPENAI_BASE_URL, or pass --assistant-file to create it",
    ),
)
"""(words of a failure, what to do about it): hints where the next step is obvious."""


def failure_message(err: WorkflowFailureError | WorkflowUpdateFailedError) -> str:
    """What failed, in the words of whoever raised it (an activity, a child workflow, the
    workflow, an update's validator): not the wrappers around it, nor the library exception
    it was translated from. With a hint where the next step is obvious."""
    chain = _causes(err.cause)
    wrapped = [i for i, cause in enumerate(chain) if isinstance(cause, _WRAPPERS)]
    raised = chain[wrapped[-1] + 1] if wrapped and wrapped[-1] + 1 < len(chain) else chain[0]
    message = (raised.message if isinstance(raised, FailureError) else str(raised)).rstrip(".")
    hint = next((hint for words, hint in _HINTS if words in message), None)
    return f"{message}; {hint}" if hint else message


def _causes(err: BaseException) -> list[BaseException]:
    chain = []
    cause: BaseException | None = err
    while cause is not None:
        chain.append(cause)
        cause = cause.__cause__
    return chain
