"""`durable-assistants migrate assistant ID`: an Assistants API assistant as the `assistant`
spec a run takes on the responses backend (the migration guide's successor of assistants)."""

from __future__ import annotations

from typing import Any

import yaml
from openai.types.beta import Assistant

from activities.ownership import OWNER_KEY, WORKFLOW_KEY
from activities.run.assistants import SPEC_HASH
from workers.settings import Settings
from workers.wiring import openai_client, project_tools
from workflows.contracts import AssistantSpec

OURS = frozenset({OWNER_KEY, WORKFLOW_KEY, SPEC_HASH})


async def migrate_assistant(settings: Settings, assistant_id: str) -> str:
    """The assistant (read from OPENAI_BASE_URL's Assistants API) as a YAML spec."""
    async with openai_client(settings) as openai:
        assistant = await openai.beta.assistants.retrieve(assistant_id)
    spec = as_spec(assistant, registered={t.spec.name for t in project_tools(settings)})
    header = (
        f"# {assistant_id}, as an assistant spec for the responses backend:\n"
        "#   durable-assistants run --assistant-file THIS.yaml -m '...'\n"
    )
    return header + yaml.safe_dump(spec.model_dump(mode="json", exclude_none=True), sort_keys=False)


def as_spec(assistant: Assistant, registered: set[str]) -> AssistantSpec:
    """Function tools this worker registers are named; others keep their definition (the
    Responses API's flat form); built-ins by type; file_search keeps its vector stores."""
    tools: list[str | dict[str, Any]] = []
    for tool in assistant.tools:
        if tool.type != "function":
            tools.append(tool.type)
        elif tool.function.name in registered:
            tools.append(tool.function.name)
        else:
            function = tool.function.model_dump(exclude_none=True)
            tools.append({"type": "function", **function, "strict": bool(function.get("strict"))})
    resources = assistant.tool_resources
    stores = resources.file_search.vector_store_ids if resources and resources.file_search else None
    return AssistantSpec(
        name=assistant.name or assistant.id,
        model=assistant.model,
        instructions=assistant.instructions,
        description=assistant.description,
        tools=tools,
        tool_resources={"file_search": {"vector_store_ids": stores}} if stores else None,
        metadata={k: v for k, v in (assistant.metadata or {}).items() if k not in OURS},
        temperature=assistant.temperature,
        top_p=assistant.top_p,
    )
