"""The run's steps as activities: each is done by the API backend its input names, so one
worker serves runs and conversations on both (the workflow picks, once per run)."""

from __future__ import annotations

from typing import Protocol

import openai
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.pacing import TokenPacer
from activities.prices import PriceTable, load_prices
from activities.run.assistants import AssistantsBackend
from activities.run.generated import FileDetails
from activities.run.responses import ResponsesBackend
from workflows.common import TERMINAL_PHASES, Backend
from workflows.run.steps import (
    CANCEL_RUN,
    CREATE_THREAD,
    DEFAULT_BACKEND,
    DELETE_THREAD,
    ENSURE_ASSISTANT,
    MODEL_NOT_FOUND,
    START_RUN,
    SUBMIT_TOOL_OUTPUTS,
    WAIT_FOR_RUN,
    CancelRun,
    CreateThread,
    EnsureAssistant,
    RunSnapshot,
    StartRun,
    SubmitToolOutputs,
    WaitForRun,
)
from workflows.run.tool_calls import check_tool_names


class RunBackend(Protocol):
    """What each API backend does for a run."""

    async def start_run(self, request: StartRun) -> RunSnapshot: ...
    async def wait_for_run(self, request: WaitForRun) -> RunSnapshot: ...
    async def submit_tool_outputs(self, request: SubmitToolOutputs) -> RunSnapshot: ...
    async def cancel_run(self, request: CancelRun) -> RunSnapshot: ...
    async def delete_own_thread(self, thread_id: str) -> bool: ...
    async def thread_exists(self, thread_id: str) -> bool: ...


class DefaultBackend:
    """The local activity a workflow asks which backend to use when a run names none; every
    worker that runs workflows serves it."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @activity.defn(name=DEFAULT_BACKEND)
    async def default_backend(self) -> Backend:
        """The worker's OPENAI_BACKEND."""
        return self.backend


class RunSteps:
    """The run's activities, registered under the backend-neutral step names."""

    def __init__(
        self,
        assistants: AssistantsBackend,
        responses: ResponsesBackend,
        prices: PriceTable | None = None,
        pacer: TokenPacer | None = None,
    ) -> None:
        self.assistants = assistants
        self.responses = responses
        self.tools = responses.tools
        self.file_details = FileDetails(assistants.client)
        self.prices = prices or load_prices()
        self.pacer = pacer
        self.backends: dict[Backend, RunBackend] = {
            "assistants": assistants,
            "responses": responses,
        }

    def backend_of(self, thread_id: str) -> RunBackend:
        """A thread id says its backend: responses continue from a response."""
        return self.backends["responses" if thread_id.startswith("resp_") else "assistants"]

    @activity.defn(name=ENSURE_ASSISTANT.name)
    async def ensure_assistant(self, request: EnsureAssistant) -> str:
        return await self.assistants.ensure_assistant(request)

    @activity.defn(name=CREATE_THREAD.name)
    async def create_thread(self, request: CreateThread) -> str:
        return await self.assistants.create_thread(request)

    @activity.defn(name=START_RUN.name)
    async def start_run(self, request: StartRun) -> RunSnapshot:
        """Start the run, once its model has tokens left in the fleet's pacing window (and
        the tools it names are registered)."""
        check_tool_names(request.named_tools, self.tools.catalog())
        if self.pacer is not None:
            await self.pacer.admit(_model_of(request))
        try:
            started = await self.backends[request.backend].start_run(request)
        except ApplicationError as err:
            raise _model_not_found(err) or err from err.__cause__
        if request.with_tool_catalog and started.tool_calls:
            started.tool_catalog = self.tools.catalog()
        return await self._turn_done(request.backend, self._priced(await self._described(started)))

    @activity.defn(name=WAIT_FOR_RUN.name)
    async def wait_for_run(self, request: WaitForRun) -> RunSnapshot:
        waited = await self._described(await self.backends[request.backend].wait_for_run(request))
        waited = self._priced(waited)
        return await self._turn_done(request.backend, waited, created_here=False)

    @activity.defn(name=SUBMIT_TOOL_OUTPUTS.name)
    async def submit_tool_outputs(self, request: SubmitToolOutputs) -> RunSnapshot:
        submitted = await self.backends[request.backend].submit_tool_outputs(request)
        submitted = self._priced(await self._described(submitted))
        return await self._turn_done(request.backend, submitted)

    async def _turn_done(
        self, backend: Backend, snapshot: RunSnapshot, created_here: bool = True
    ) -> RunSnapshot:
        """Add the tokens a model turn used to the pacing window: a response's once, by the
        step that created it; an assistants run's once it has ended (its usage is the run's)."""
        if self.pacer is None:
            return snapshot
        ended = snapshot.status in TERMINAL_PHASES
        if (backend == "responses" and created_here) or (backend == "assistants" and ended):
            await self.pacer.spent(snapshot.model, snapshot.usage)
        return snapshot

    @activity.defn(name=CANCEL_RUN.name)
    async def cancel_run(self, request: CancelRun) -> RunSnapshot:
        return self._priced(await self.backends[request.backend].cancel_run(request))

    async def _described(self, snapshot: RunSnapshot) -> RunSnapshot:
        """The snapshot with the names, sizes and types of the files the model generated."""
        if snapshot.files:
            snapshot.files = await self.file_details.described(snapshot.files)
        return snapshot

    def _priced(self, snapshot: RunSnapshot) -> RunSnapshot:
        """The snapshot with the estimated cost of its usage (None: the model has no price)."""
        snapshot.cost_usd = self.prices.cost(snapshot.model, snapshot.usage)
        if snapshot.cost_usd is None and snapshot.model is not None:
            activity.logger.warning("no price for model %s: its cost is unknown", snapshot.model)
        return snapshot

    @activity.defn(name=DELETE_THREAD.name)
    async def delete_thread(self, thread_id: str) -> bool:
        """Delete a thread (a chain of responses) as far as the calling workflow made it;
        False if nothing of it was deleted."""
        return await self.backend_of(thread_id).delete_own_thread(thread_id)


def _model_of(request: StartRun) -> str | None:
    """The model a run asks for, when the request says (an assistant's own is not known)."""
    model = request.overrides.get("model")
    if isinstance(model, str):
        return model
    return request.assistant.model if request.assistant is not None else None


def _model_not_found(err: ApplicationError) -> ApplicationError | None:
    """The API's refusal of the run's model (`model_not_found`) as an error of its own type,
    so a run with fallback models can try the next one."""
    cause = err.__cause__
    body = cause.body if isinstance(cause, openai.APIStatusError) else None
    if isinstance(body, dict) and body.get("code") == "model_not_found":
        return ApplicationError(err.message, type=MODEL_NOT_FOUND, non_retryable=True)
    return None
