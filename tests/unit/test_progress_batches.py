"""What one `publish_progress` signal carries: at most MAX_BATCH_CHARS of text, in order."""

from __future__ import annotations

from activities.progress import BATCH_SECONDS, MAX_BATCH_CHARS, _batch, pause_after
from workflows.run.progress import TextChunk


def chunk(sequence: int, size: int) -> TextChunk:
    return TextChunk(message_id="msg_1", sequence=sequence, delta="x" * size)


def test_a_batch_stops_before_the_chunk_that_would_make_it_too_big() -> None:
    chunks = [chunk(n, MAX_BATCH_CHARS // 3) for n in range(5)]
    assert [c.sequence for c in _batch(chunks)] == [0, 1, 2]


def test_a_chunk_bigger_than_a_batch_still_goes_alone() -> None:
    assert [c.sequence for c in _batch([chunk(0, MAX_BATCH_CHARS * 2), chunk(1, 1)])] == [0]


def test_small_chunks_all_go_together() -> None:
    assert len(_batch([chunk(n, 10) for n in range(50)])) == 50


def test_live_text_costs_history_growing_with_the_log_of_the_answers_length() -> None:
    def batches_within(seconds: float) -> int:
        elapsed, sent = 0.0, 0
        while elapsed < seconds:
            elapsed += pause_after(sent, BATCH_SECONDS)
            sent += 1
        return sent

    assert pause_after(0, BATCH_SECONDS) == BATCH_SECONDS
    assert [batches_within(s) for s in (10, 600, 3600)] == [51, 296, 421]
    assert batches_within(24 * 3600) < 700
