"""`durable-assistants cancel`: a run that has already ended is said in one line, not a trace."""

from __future__ import annotations

from temporalio.service import RPCError, RPCStatusCode

from workers.cli_errors import CommandFailed
from workers.connection import connect
from workers.run_cli import cancel_command
from workers.settings import Settings


async def cancel_unless_ended(settings: Settings, workflow_id: str, reason: str) -> None:
    """Cancel the run; `CommandFailed` naming its status if it had already ended."""
    try:
        await cancel_command(settings, workflow_id, reason)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        # the update found no open workflow: ended, or never existed (describe raises that)
        client = await connect(settings)
        status = (await client.get_workflow_handle(workflow_id).describe()).status
        ended = status.name.lower() if status else "unknown"
        raise CommandFailed(
            f"run {workflow_id} has already ended ({ended}): nothing to cancel"
        ) from err
