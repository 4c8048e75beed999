"""Vector stores, their files and batches, search, and file_search runs through the official SDK;
every JSON response is checked against the spec."""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from openai.types import FileObject, StaticFileChunkingStrategyObjectParam, VectorStore

POLL_MS = 10
VACATION = "Employees receive 25 vacation days per year. Vacation requests go to the team lead."
LAPTOPS = "Laptops must use full disk encryption. Report a lost laptop to security within an hour."
PARKING = "Parking permits are issued by the facilities desk on the ground floor."


def upload(client: OpenAI, name: str, content: str | bytes) -> FileObject:
    data = content.encode() if isinstance(content, str) else content
    return client.files.create(file=(name, data), purpose="assistants")


def wait_for_store(client: OpenAI, store_id: str) -> VectorStore:
    deadline = time.monotonic() + 5
    while (found := client.vector_stores.retrieve(store_id)).status == "in_progress":
        assert time.monotonic() < deadline, "vector store still in progress"
        time.sleep(POLL_MS / 1000)
    return found


def counts(found: Any) -> dict[str, int]:
    counted: dict[str, int] = found.file_counts.model_dump()
    return counted


@pytest.fixture
def handbook(client: OpenAI) -> VectorStore:
    """A store of three small documents with attributes, fully indexed."""
    created = client.vector_stores.create(name="handbook")
    documents: list[tuple[str, str, dict[str, str | float | bool]]] = [
        ("vacation.md", VACATION, {"team": "hr", "year": 2024}),
        ("laptops.md", LAPTOPS, {"team": "it", "year": 2025}),
        ("parking.txt", PARKING, {"team": "facilities", "year": 2023}),
    ]
    batch = client.vector_stores.file_batches.create_and_poll(
        vector_store_id=created.id,
        poll_interval_ms=POLL_MS,
        files=[
            {"file_id": upload(client, name, text).id, "attributes": attributes}
            for name, text, attributes in documents
        ],
    )
    assert batch.status == "completed"
    return client.vector_stores.retrieve(created.id)


def test_create_retrieve_modify_delete(client: OpenAI, counters: Any) -> None:
    before = counters().get("vector_stores_created", {}).get("total", 0)
    created = client.vector_stores.create(
        name="docs", metadata={"team": "a"}, expires_after={"anchor": "last_active_at", "days": 2}
    )
    assert created.id.startswith("vs_")
    assert (created.status, created.usage_bytes, created.name) == ("completed", 0, "docs")
    assert counts(created) == {
        "in_progress": 0,
        "completed": 0,
        "failed": 0,
        "cancelled": 0,
        "total": 0,
    }
    assert created.expires_at == created.last_active_at + 2 * 86_400  # type: ignore[operator]
    assert counters()["vector_stores_created"]["total"] == before + 1

    updated = client.vector_stores.update(
        created.id, name="renamed", expires_after={"anchor": "last_active_at", "days": 3}
    )
    assert (updated.name, updated.metadata) == ("renamed", {"team": "a"})
    assert updated.expires_at == updated.last_active_at + 3 * 86_400  # type: ignore[operator]
    assert client.vector_stores.retrieve(created.id).name == "renamed"

    assert client.vector_stores.delete(created.id).deleted
    with pytest.raises(openai.NotFoundError, match=f"No vector store found with id '{created.id}'"):
        client.vector_stores.retrieve(created.id)


def test_list_pages_with_after_and_has_more(client: OpenAI) -> None:
    ids = [client.vector_stores.create(name=f"p{i}").id for i in range(4)]
    page = client.vector_stores.list(limit=2, order="asc", after=ids[0])
    assert [s.id for s in page.data] == ids[1:3]
    assert page.has_more
    assert client.vector_stores.list(limit=1).data[0].id == ids[-1]


def test_a_file_is_in_progress_then_completed(client: OpenAI, counters: Any) -> None:
    added_before = counters().get("vector_store_files_added", {}).get("total", 0)
    store = client.vector_stores.create(name="slow")
    document = upload(client, "slow.md", "[[emulator index=0.3]] Indexing takes a while here.")
    added = client.vector_stores.files.create(vector_store_id=store.id, file_id=document.id)
    assert (added.id, added.status, added.last_error) == (document.id, "in_progress", None)
    assert added.chunking_strategy is not None
    assert added.chunking_strategy.model_dump() == {
        "type": "static",
        "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400},
    }
    busy = client.vector_stores.retrieve(store.id)
    assert (busy.status, busy.file_counts.in_progress, busy.file_counts.total) == (
        "in_progress",
        1,
        1,
    )

    done = client.vector_stores.files.poll(
        document.id, vector_store_id=store.id, poll_interval_ms=POLL_MS
    )
    assert (done.status, done.last_error) == ("completed", None)
    assert done.usage_bytes > 0
    ready = client.vector_stores.retrieve(store.id)
    assert ready.status == "completed"
    assert (ready.file_counts.completed, ready.usage_bytes) == (1, done.usage_bytes)
    assert counters()["vector_store_files_added"]["total"] == added_before + 1


def test_upload_and_poll_and_file_content(client: OpenAI) -> None:
    store = client.vector_stores.create(name="upload")
    added = client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id,
        file=("faq.txt", b"[[emulator index=0]] Shipping is free."),
        poll_interval_ms=POLL_MS,
        attributes={"kind": "faq"},
    )
    assert (added.status, added.attributes) == ("completed", {"kind": "faq"})
    parts = client.vector_stores.files.content(added.id, vector_store_id=store.id).data
    assert [(p.type, p.text) for p in parts] == [("text", "Shipping is free.")]
    updated = client.vector_stores.files.update(
        added.id, vector_store_id=store.id, attributes={"kind": "policy", "rank": 2}
    )
    assert updated.attributes == {"kind": "policy", "rank": 2}
    listed = client.vector_stores.files.list(vector_store_id=store.id, filter="completed")
    assert [f.id for f in listed.data] == [added.id]


def test_unknown_ids_are_404(client: OpenAI) -> None:
    store = client.vector_stores.create(name="404")
    with pytest.raises(openai.NotFoundError, match="No file found with id 'file-missing'"):
        client.vector_stores.files.create(vector_store_id=store.id, file_id="file-missing")
    with pytest.raises(openai.NotFoundError, match="No file found with id 'file-missing'"):
        client.vector_stores.create(file_ids=["file-missing"])
    with pytest.raises(openai.NotFoundError, match=f"in vector store '{store.id}'"):
        client.vector_stores.files.retrieve("file-missing", vector_store_id=store.id)
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.file_batches.retrieve("vsfb_missing", vector_store_id=store.id)


def test_files_that_cannot_be_indexed_fail_with_the_right_codes(client: OpenAI) -> None:
    failing = {
        upload(client, "data.xyz", "some text").id: "unsupported_file",
        upload(client, "empty.txt", b"").id: "invalid_file",
        upload(client, "broken.md", "[[emulator index=fail]] text").id: "server_error",
    }
    good = upload(client, "good.md", "Perfectly fine text.").id
    store = client.vector_stores.create(name="failures", file_ids=[*failing, good])
    assert counts(store)["in_progress"] == 4
    ready = wait_for_store(client, store.id)
    assert counts(ready) == {
        "in_progress": 0,
        "completed": 1,
        "failed": 3,
        "cancelled": 0,
        "total": 4,
    }
    failed = client.vector_stores.files.list(vector_store_id=store.id, filter="failed").data
    assert {f.id: f.last_error.code for f in failed if f.last_error} == failing
    assert all(f.last_error and f.last_error.message for f in failed)


def test_index_failures_fail_then_succeed_when_added_again(client: OpenAI) -> None:
    flaky = upload(client, "flaky.md", "[[emulator index_failures=2]] Eventually indexed.")
    store = client.vector_stores.create(name="retry")
    first = client.vector_stores.files.create_and_poll(
        file_id=flaky.id, vector_store_id=store.id, poll_interval_ms=POLL_MS
    )
    assert first.last_error is not None
    assert (first.status, first.last_error.code) == ("failed", "server_error")

    client.vector_stores.files.delete(flaky.id, vector_store_id=store.id)
    second = client.vector_stores.files.create_and_poll(
        file_id=flaky.id, vector_store_id=store.id, poll_interval_ms=POLL_MS
    )
    assert second.status == "failed"
    batch = client.vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id, file_ids=[flaky.id], poll_interval_ms=POLL_MS
    )
    assert counts(batch) == {
        "in_progress": 0,
        "completed": 1,
        "failed": 0,
        "cancelled": 0,
        "total": 1,
    }
    assert counts(client.vector_stores.retrieve(store.id))["completed"] == 1


def test_batches_count_their_files_and_list_them_by_status(client: OpenAI) -> None:
    store = client.vector_stores.create(name="batch")
    ids = [upload(client, f"doc{i}.txt", f"Document number {i}.").id for i in range(3)]
    broken = upload(client, "broken.bin", "binary").id
    batch = client.vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id,
        file_ids=[*ids, broken],
        poll_interval_ms=POLL_MS,
        attributes={"source": "batch"},
    )
    assert batch.id.startswith("vsfb_")
    assert (batch.status, batch.vector_store_id) == ("completed", store.id)
    assert counts(batch) == {
        "in_progress": 0,
        "completed": 3,
        "failed": 1,
        "cancelled": 0,
        "total": 4,
    }
    completed = client.vector_stores.file_batches.list_files(
        batch.id, vector_store_id=store.id, filter="completed"
    )
    assert sorted(f.id for f in completed.data) == sorted(ids)
    assert {f.attributes["source"] for f in completed.data if f.attributes} == {"batch"}
    assert counts(client.vector_stores.retrieve(store.id)) == counts(batch)


def test_cancelling_a_batch_cancels_its_unfinished_files(client: OpenAI) -> None:
    store = client.vector_stores.create(name="cancel")
    slow = upload(client, "slow.txt", "[[emulator index=60]] Slow to index.").id
    quick = upload(client, "quick.txt", "[[emulator index=0]] Quick to index.").id
    batch = client.vector_stores.file_batches.create(
        vector_store_id=store.id, file_ids=[slow, quick]
    )
    cancelled = client.vector_stores.file_batches.cancel(batch.id, vector_store_id=store.id)
    assert cancelled.status == "cancelled"
    assert counts(cancelled) == {
        "in_progress": 0,
        "completed": 1,
        "failed": 0,
        "cancelled": 1,
        "total": 2,
    }
    assert client.vector_stores.retrieve(store.id).status == "completed"
    with pytest.raises(openai.BadRequestError, match="status 'cancelled'"):
        client.vector_stores.file_batches.cancel(batch.id, vector_store_id=store.id)


def test_deleting_a_file_removes_it_from_its_stores(client: OpenAI) -> None:
    document = upload(client, "gone.md", "Soon deleted.")
    kept = upload(client, "kept.md", "Stays.")
    store = client.vector_stores.create(name="delete", file_ids=[document.id, kept.id])
    wait_for_store(client, store.id)
    client.files.delete(document.id)
    after = client.vector_stores.retrieve(store.id)
    assert (after.file_counts.total, after.file_counts.completed) == (1, 1)
    listed = client.vector_stores.files.list(vector_store_id=store.id).data
    assert [f.id for f in listed] == [kept.id]


def test_search_ranks_the_best_chunk_first(client: OpenAI, handbook: VectorStore) -> None:
    results = client.vector_stores.search(handbook.id, query="how many vacation days").data
    assert results[0].filename == "vacation.md"
    assert results[0].content[0].text == VACATION
    assert results[0].attributes == {"team": "hr", "year": 2024}
    assert all(0 < r.score <= 1 for r in results)
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_search_applies_filters_thresholds_and_limits(
    client: OpenAI, handbook: VectorStore
) -> None:
    query = ["vacation days", "lost laptop", "parking permits"]
    only_it = client.vector_stores.search(
        handbook.id, query=query, filters={"type": "eq", "key": "team", "value": "it"}
    )
    assert [r.filename for r in only_it.data] == ["laptops.md"]
    assert len(client.vector_stores.search(handbook.id, query=query, max_num_results=1).data) == 1
    best = client.vector_stores.search(handbook.id, query=query).data[0]
    strict = client.vector_stores.search(
        handbook.id, query=query, ranking_options={"score_threshold": best.score}
    )
    assert [(r.file_id, r.score) for r in strict.data] == [(best.file_id, best.score)]


def test_search_accepts_compound_filters(client: OpenAI, handbook: VectorStore) -> None:
    either = client.vector_stores.search(
        handbook.id,
        query=["vacation days", "lost laptop", "parking permits"],
        filters={
            "type": "or",
            "filters": [
                {"type": "gte", "key": "year", "value": 2025},
                {"type": "in", "key": "team", "value": ["hr"]},
            ],
        },
    )
    assert sorted(r.filename for r in either.data) == ["laptops.md", "vacation.md"]


def test_static_chunking_is_validated_and_used(client: OpenAI) -> None:
    store = client.vector_stores.create(name="chunks")
    words = " ".join(f"word{i}" for i in range(300))
    document = upload(client, "long.txt", words)
    too_much: StaticFileChunkingStrategyObjectParam = {
        "type": "static",
        "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 60},
    }
    with pytest.raises(openai.BadRequestError, match="half of max_chunk_size_tokens"):
        client.vector_stores.files.create(
            vector_store_id=store.id, file_id=document.id, chunking_strategy=too_much
        )
    half: StaticFileChunkingStrategyObjectParam = {
        "type": "static",
        "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 50},
    }
    client.vector_stores.files.create_and_poll(
        vector_store_id=store.id,
        file_id=document.id,
        poll_interval_ms=POLL_MS,
        chunking_strategy=half,
    )
    found = client.vector_stores.search(store.id, query="word120").data
    assert len(found) == 2  # chunks overlap by half: word120 is in words 50-149 and 100-199
    assert all(len(r.content[0].text.split()) == 100 for r in found)


def test_a_run_with_file_search_answers_from_the_document(
    client: OpenAI, handbook: VectorStore
) -> None:
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [handbook.id]}},
    )
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "How many vacation days do I get?"}]
    )
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "completed"
    message = client.beta.threads.messages.list(thread.id, run_id=run.id).data[0]
    text = message.content[0].text  # type: ignore[union-attr]
    assert VACATION in text.value
    assert text.value.startswith("According to vacation.md")
    citation = text.annotations[0]
    assert citation.type == "file_citation"
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data
    assert steps[0].step_details.type == "tool_calls"


def test_files_attached_to_a_message_are_searched(client: OpenAI) -> None:
    document = upload(client, "menu.md", "The cafeteria serves lasagna every Thursday.")
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[{"type": "file_search"}])
    thread = client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": "When is lasagna served?",
                "attachments": [{"file_id": document.id, "tools": [{"type": "file_search"}]}],
            }
        ]
    )
    assert thread.tool_resources
    assert thread.tool_resources.file_search
    store_ids = thread.tool_resources.file_search.vector_store_ids or []
    thread_store = client.vector_stores.retrieve(store_ids[0])
    assert thread_store.expires_after is not None
    assert (thread_store.expires_after.anchor, thread_store.expires_after.days) == (
        "last_active_at",
        7,
    )
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    message = client.beta.threads.messages.list(thread.id, run_id=run.id).data[0]
    assert "lasagna every Thursday" in message.content[0].text.value  # type: ignore[union-attr]


async def test_async_client_round_trip(aclient: AsyncOpenAI) -> None:
    store = await aclient.vector_stores.create(name="async")
    added = await aclient.vector_stores.files.upload_and_poll(
        vector_store_id=store.id,
        file=("tips.md", b"Water the plants on Mondays."),
        poll_interval_ms=POLL_MS,
    )
    assert added.status == "completed"
    other = await aclient.files.create(
        file=("more.md", b"Feed the cat at noon."), purpose="assistants"
    )
    batch = await aclient.vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id, file_ids=[other.id], poll_interval_ms=POLL_MS
    )
    assert batch.file_counts.completed == 1
    page = await aclient.vector_stores.search(store.id, query="when to feed the cat")
    assert page.data[0].filename == "more.md"
    listed = [f.id async for f in aclient.vector_stores.files.list(vector_store_id=store.id)]
    assert sorted(listed) == sorted([added.id, other.id])
    assert (await aclient.vector_stores.delete(store.id)).deleted
