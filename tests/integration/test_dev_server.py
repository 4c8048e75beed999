"""The session's dev server runs workflows on our worker with our converter and attributes."""

import asyncio
import uuid

from pydantic import BaseModel
from temporalio import workflow
from temporalio.client import Client

with workflow.unsafe.imports_passed_through():
    from workers.settings import load_settings
    from workers.worker import build_worker
    from workflows.search_attributes import RUN_PHASE


class Greeting(BaseModel):
    name: str


class Reply(BaseModel):
    text: str


@workflow.defn(name="FoundationProbe")
class FoundationProbe:
    @workflow.run
    async def run(self, greeting: Greeting) -> Reply:
        workflow.upsert_search_attributes([RUN_PHASE.value_set("completed")])
        return Reply(text=f"hello {greeting.name}")


async def test_workflow_round_trips_pydantic_models_and_sets_search_attributes(
    client: Client, task_queue: str
) -> None:
    workflow_id = f"probe-{uuid.uuid4()}"
    async with build_worker(
        client, load_settings(), workflows=[FoundationProbe], task_queue=task_queue
    ):
        reply = await client.execute_workflow(
            FoundationProbe.run, Greeting(name="temporal"), id=workflow_id, task_queue=task_queue
        )
    assert reply == Reply(text="hello temporal")

    query = f'WorkflowId = "{workflow_id}" AND RunPhase = "completed"'
    for _ in range(50):
        if (await client.count_workflows(query)).count == 1:
            break
        await asyncio.sleep(0.1)
    assert (await client.count_workflows(query)).count == 1
