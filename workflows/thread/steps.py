"""What `AssistantThread` asks of its activities besides its runs."""

from __future__ import annotations

from workflows.common import Step

DELETE_THREAD = Step("run.delete_thread", str, bool)
"""Delete the API thread; False if it was already gone."""
