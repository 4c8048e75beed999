"""Custom search attributes: how runs are found in the Temporal UI. Their names are public API."""

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

OPENAI_THREAD_ID = SearchAttributeKey.for_keyword("OpenAIThreadId")
OPENAI_RUN_ID = SearchAttributeKey.for_keyword("OpenAIRunId")
OPENAI_ASSISTANT_ID = SearchAttributeKey.for_keyword("OpenAIAssistantId")
RUN_PHASE = SearchAttributeKey.for_keyword("RunPhase")
TENANT = SearchAttributeKey.for_keyword("Tenant")
"""Set by the HTTP gateway (`serve`) on every workflow it starts: whose it is."""

ALL = (OPENAI_THREAD_ID, OPENAI_RUN_ID, OPENAI_ASSISTANT_ID, RUN_PHASE, TENANT)


def run_attributes(
    phase: str, thread_id: str | None, run_id: str | None, assistant_id: str | None
) -> list[SearchAttributeUpdate[Any]]:
    """A run's attributes: its phase, and the ids it has so far."""
    updates: list[SearchAttributeUpdate[Any]] = [RUN_PHASE.value_set(phase)]
    if thread_id:
        updates.append(OPENAI_THREAD_ID.value_set(thread_id))
    if run_id:
        updates.append(OPENAI_RUN_ID.value_set(run_id))
    if assistant_id:
        updates.append(OPENAI_ASSISTANT_ID.value_set(assistant_id))
    return updates


def tenant() -> str | None:
    """The tenant the HTTP gateway started the current workflow for (in workflow code)."""
    return workflow.info().typed_search_attributes.get(TENANT)
