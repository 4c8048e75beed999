"""Chunking, BM25 ranking and attribute filters of the emulator's file search."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator import files, vector_stores
from emulator.search import bm25, chunk, matches, words
from emulator.store import Store, new_id

TEXTS = st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), max_size=60).map(" ".join)
SIZES = st.integers(2, 20).flatmap(lambda size: st.tuples(st.just(size), st.integers(0, size - 1)))


def test_chunks_are_verbatim_windows_sharing_the_overlap() -> None:
    text = "one two  three\nfour five six seven"
    assert chunk(text, max_tokens=3, overlap=1) == [
        "one two  three",
        "three\nfour five",
        "five six seven",
    ]


def test_short_and_empty_texts() -> None:
    assert chunk("just a few words") == ["just a few words"]
    assert chunk("   ") == []


def test_overlap_must_be_smaller_than_the_chunk() -> None:
    with pytest.raises(ValueError, match="overlap"):
        chunk("a b c", max_tokens=2, overlap=2)


@given(TEXTS, SIZES)
def test_chunks_cover_every_token_within_the_size(text: str, sizes: tuple[int, int]) -> None:
    max_tokens, overlap = sizes
    chunks = chunk(text, max_tokens, overlap)
    assert all(len(c.split()) <= max_tokens for c in chunks)
    step = max_tokens - overlap
    rebuilt = [token for c in chunks[:-1] for token in c.split()[:step]]
    rebuilt += chunks[-1].split() if chunks else []
    assert rebuilt == text.split()


def test_bm25_ranks_the_matching_document_first() -> None:
    documents = [
        "Parking permits are issued at the front desk.",
        "Employees receive 25 vacation days; vacation requests go to the team lead.",
        "Laptops must be encrypted.",
    ]
    scores = bm25("how many vacation days", documents)
    assert max(range(3), key=scores.__getitem__) == 1
    assert scores[2] == 0.0


def test_bm25_without_query_terms_or_documents() -> None:
    assert bm25("", ["some text"]) == [0.0]
    assert bm25("anything", []) == []


@given(st.lists(TEXTS, max_size=8), TEXTS)
def test_bm25_scores_are_normalised(documents: list[str], query: str) -> None:
    scores = bm25(query, documents)
    assert len(scores) == len(documents)
    assert all(0.0 <= score < 1.0 for score in scores)


def test_words_are_lower_case_alphanumerics() -> None:
    assert words("Hello, WORLD: it's 2025!") == ["hello", "world", "it", "s", "2025"]


ATTRIBUTES = {"team": "hr", "year": 2024, "public": True}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"type": "eq", "key": "team", "value": "hr"}, True),
        ({"type": "eq", "key": "team", "value": "it"}, False),
        ({"type": "ne", "key": "team", "value": "it"}, True),
        ({"type": "gt", "key": "year", "value": 2023}, True),
        ({"type": "gte", "key": "year", "value": 2024}, True),
        ({"type": "lt", "key": "year", "value": 2024}, False),
        ({"type": "lte", "key": "year", "value": 2024.0}, True),
        ({"type": "in", "key": "team", "value": ["it", "hr"]}, True),
        ({"type": "nin", "key": "team", "value": ["it", "hr"]}, False),
        ({"type": "eq", "key": "public", "value": True}, True),
        ({"type": "eq", "key": "public", "value": 1}, False),
        ({"type": "gt", "key": "team", "value": 1}, False),
        ({"type": "eq", "key": "missing", "value": "x"}, False),
        ({"type": "ne", "key": "missing", "value": "x"}, False),
    ],
)
def test_comparison_filters(condition: dict[str, Any], expected: bool) -> None:
    assert matches(condition, ATTRIBUTES) is expected


def test_compound_filters_nest() -> None:
    hr = {"type": "eq", "key": "team", "value": "hr"}
    recent = {"type": "gte", "key": "year", "value": 2025}
    assert matches({"type": "or", "filters": [hr, recent]}, ATTRIBUTES)
    assert not matches({"type": "and", "filters": [hr, recent]}, ATTRIBUTES)
    nested = {"type": "and", "filters": [hr, {"type": "or", "filters": [recent, hr]}]}
    assert matches(nested, ATTRIBUTES)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _upload(store: Store, name: str, content: bytes) -> str:
    file_id = new_id("file-")
    public = {"id": file_id, "object": "file", "filename": name, "bytes": len(content)}
    files.files(store).add(file_id, public, content)
    return file_id


def test_thread_stores_are_searchable_at_once_and_expire_when_idle() -> None:
    clock = Clock()
    store = Store(clock=clock)
    menu = _upload(store, "menu.md", b"The cafeteria serves lasagna on Thursday.")
    broken = _upload(store, "broken.md", b"[[emulator index=fail]] lasagna lasagna")
    vs_id = vector_stores.create_for_thread(store, [menu, broken])

    hits = vector_stores.search(store, [vs_id, "vs_deleted"], "when is lasagna served")
    assert [(hit.file_id, hit.filename) for hit in hits] == [(menu, "menu.md")]
    assert hits[0].text == "The cafeteria serves lasagna on Thursday."
    found = vector_stores.vector_stores(store).get(vs_id).public
    assert (found["status"], found["file_counts"]["failed"]) == ("completed", 1)

    clock.now += 7 * 86_400
    vector_stores.search(store, [vs_id], "lasagna")
    assert found["status"] == "expired"
