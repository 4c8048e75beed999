"""`durable-assistants migrate assistant`: an Assistants API assistant, run on responses."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from openai import AsyncOpenAI

from tests.integration.conftest import run_cli
from workers.settings import Settings
from workflows.contracts import AssistantSpec


async def test_a_migrated_assistant_runs_on_the_responses_backend(
    settings: Settings, worker: None, openai: AsyncOpenAI, tmp_path: Path
) -> None:
    store = await openai.vector_stores.create(name="manual")
    assistant = await openai.beta.assistants.create(
        model="gpt-4o",
        name="weather desk",
        instructions="Answer with the tools' results.",
        tools=[
            {
                "type": "function",
                "function": {"name": "get_weather", "parameters": {"type": "object"}},
            },
            {
                "type": "function",
                "function": {"name": "elsewhere", "parameters": {"type": "object"}},
            },
            {"type": "file_search"},
        ],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
        metadata={"team": "support"},
    )
    migrated = await run_cli(settings, "migrate", "assistant", assistant.id)
    assert migrated.returncode == 0, migrated.stderr
    spec = AssistantSpec.model_validate(yaml.safe_load(migrated.stdout))
    assert (spec.name, spec.model, spec.metadata) == ("weather desk", "gpt-4o", {"team": "support"})
    assert spec.tools[0] == "get_weather"
    assert spec.tools[1] == {
        "type": "function",
        "name": "elsewhere",
        "parameters": {"type": "object"},
        "strict": False,
    }
    assert spec.tools[2] == "file_search"
    assert spec.vector_store_ids() == [store.id]
    spec_file = tmp_path / "desk.yaml"
    spec_file.write_text(migrated.stdout)
    text = "What is the weather in Rome?"
    ran = await run_cli(
        settings,
        "run",
        "--assistant-file",
        str(spec_file),
        "-m",
        text,
        "--backend",
        "responses",
        "--json",
    )
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert (result["status"], result["tool_calls"][0]["name"]) == ("completed", "get_weather")
    assert result["run_id"].startswith("resp_")
