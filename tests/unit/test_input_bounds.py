"""Every field a caller sets has a bound the API (or the workers) can live with, and going over
it names the field: nothing reaches history or the API that either would refuse later."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from workflows.common import first_error
from workflows.run.contracts import RESPONSES_METADATA, RunRequest, refused_by

SPEC = {"name": "desk", "model": "gpt-4o"}


def request(**fields: Any) -> dict[str, Any]:
    return {"assistant": SPEC, "messages": [{"content": "Hi"}], **fields}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"timeouts": {"api_max_attempts": 1_000_000}}, "timeouts.api_max_attempts"),
        ({"messages": [{"content": "Hi"}] * 33}, "messages"),
        ({"instructions": "x" * 256_001}, "instructions"),
        ({"tools": ["get_weather"] * 129}, "tools"),
        ({"model": "gpt 4o"}, "model"),
        ({"vector_store_ready_seconds": 10**9}, "vector_store_ready_seconds"),
        (
            {"assistant": {**SPEC, "metadata": {str(n): "v" for n in range(13)}}},
            "assistant.metadata",
        ),
        (
            {"messages": [{"content": "Hi", "attachments": [{"file_id": "f"}] * 21}]},
            "messages.0.attachments",
        ),
    ],
)
def test_a_value_over_its_bound_is_refused_naming_the_field(
    fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        RunRequest.model_validate(request(**fields))
    assert first_error(refused.value)[0] == field


def test_run_metadata_leaves_room_for_what_the_responses_backend_adds() -> None:
    full = RunRequest.model_validate(
        request(metadata={str(n): "v" for n in range(RESPONSES_METADATA + 1)})
    )
    assert refused_by("assistants", full) is None
    refusal = refused_by("responses", full)
    assert refusal is not None
    assert refusal.startswith("metadata: at most 11 pairs")
    fits = full.model_copy(update={"metadata": dict(list(full.metadata.items())[:-1])})
    assert refused_by("responses", fits) is None
