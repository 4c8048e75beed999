"""The worker's memory of how recent responses were configured: bounded, used once."""

from __future__ import annotations

from openai.types.responses import Response

from activities.run.responses import RecentResponses


def _response(response_id: str) -> Response:
    return Response.model_validate(
        {
            "id": response_id,
            "object": "response",
            "created_at": 0,
            "model": "gpt-4o",
            "instructions": "Be brief.",
            "output": [],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "status": "completed",
            "usage": None,
        }
    )


def test_a_remembered_response_gives_what_its_continuation_takes_over_once() -> None:
    recent = RecentResponses()
    recent.remember(_response("resp_1"))
    assert recent.recall("resp_1") == {
        "model": "gpt-4o",
        "instructions": "Be brief.",
        "tools": [],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
    }
    assert recent.recall("resp_1") is None, "a retried round reads the response again"


def test_the_oldest_response_is_forgotten_beyond_the_bound() -> None:
    recent = RecentResponses(size=2)
    for n in range(3):
        recent.remember(_response(f"resp_{n}"))
    assert recent.recall("resp_0") is None
    assert recent.recall("resp_1") is not None
    assert recent.recall("resp_2") is not None
