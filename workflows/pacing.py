"""TokenWindow: the tokens a model has used in the current pacing window, fleet-wide.

One workflow per model (`token-window-MODEL`) on the project's task queue. Workers signal it
the usage their responses report; before a run's first model request a worker queries it (no
history) and, when the window's tokens are spent, waits for the next window
(`activities.pacing`). The window rolls when a signal lands after its end; a reader treats a
window that has ended as empty. It continues as new when Temporal suggests it, so its history
stays bounded however long it lives.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import Field

    from workflows.common import Record

TOKEN_WINDOW = "TokenWindow"
SPENT_SIGNAL = "spent"
WINDOW_QUERY = "window"
SIGNALS_PER_EXECUTION = 2000


def token_window_id(model: str) -> str:
    return f"token-window-{model}"


class TokenWindowInput(Record):
    window_seconds: float = Field(gt=0)
    started_at: datetime | None = None
    spent: int = 0


class TokensSpent(Record):
    tokens: int = Field(ge=0)


class WindowState(Record):
    started_at: datetime
    window_seconds: float
    spent: int


@workflow.defn(name=TOKEN_WINDOW)
class TokenWindow:
    @workflow.init
    def __init__(self, start: TokenWindowInput) -> None:
        self.window = timedelta(seconds=start.window_seconds)
        self.started_at = start.started_at or workflow.now()
        self.spent = start.spent
        self.signals = 0

    @workflow.run
    async def run(self, start: TokenWindowInput) -> None:
        await workflow.wait_condition(
            lambda: (
                self.signals >= SIGNALS_PER_EXECUTION
                or workflow.info().is_continue_as_new_suggested()
            )
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        carried = TokenWindowInput(
            window_seconds=self.window.total_seconds(), started_at=self.started_at, spent=self.spent
        )
        workflow.continue_as_new(carried)

    @workflow.signal(name=SPENT_SIGNAL)
    def add(self, spent: TokensSpent) -> None:
        now = workflow.now()
        if now >= self.started_at + self.window:
            windows_passed = (now - self.started_at) // self.window
            self.started_at += self.window * windows_passed
            self.spent = 0
        self.spent += spent.tokens
        self.signals += 1

    @workflow.query(name=WINDOW_QUERY)
    def state(self) -> WindowState:
        return WindowState(
            started_at=self.started_at,
            window_seconds=self.window.total_seconds(),
            spent=self.spent,
        )
