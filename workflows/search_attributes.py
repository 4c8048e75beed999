"""Custom search attributes: how runs are found in the Temporal UI. Their names are public API."""

from temporalio.common import SearchAttributeKey

OPENAI_THREAD_ID = SearchAttributeKey.for_keyword("OpenAIThreadId")
OPENAI_RUN_ID = SearchAttributeKey.for_keyword("OpenAIRunId")
OPENAI_ASSISTANT_ID = SearchAttributeKey.for_keyword("OpenAIAssistantId")
RUN_PHASE = SearchAttributeKey.for_keyword("RunPhase")

ALL = (OPENAI_THREAD_ID, OPENAI_RUN_ID, OPENAI_ASSISTANT_ID, RUN_PHASE)
