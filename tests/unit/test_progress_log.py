"""The progress log: text exactly once whatever the activities send, offsets that never move."""

from __future__ import annotations

from workflows.common import RunPhase, ToolCallResult, Usage
from workflows.run.outcome import CodeInterpreterCall, RunMessage, RunResult
from workflows.run.progress import (
    ProgressBatch,
    ProgressRequest,
    RunEnded,
    TextChunk,
    TextDelta,
    TextDone,
)
from workflows.run.progress_log import PAGE_CHARS, ProgressLog


def chunks(message_id: str, *pieces: tuple[int, str]) -> ProgressBatch:
    return ProgressBatch(
        chunks=[TextChunk(message_id=message_id, sequence=s, delta=d) for s, d in pieces]
    )


def text(log: ProgressLog, message_id: str = "msg_1") -> str:
    return "".join(
        e.delta for e in log.events if isinstance(e, TextDelta) and e.message_id == message_id
    )


def answer(content: str, message_id: str = "msg_1") -> RunMessage:
    return RunMessage(id=message_id, role="assistant", text=content)


def test_chunks_sent_again_by_a_retried_activity_are_dropped() -> None:
    log = ProgressLog()
    log.publish(chunks("msg_1", (4, "Hello"), (5, " wor")))
    log.publish(chunks("msg_1", (5, " wor"), (6, "ld"), (7, "!")))  # resumed before seq 6
    log.publish(chunks("msg_1", (4, "Hello")))
    assert text(log) == "Hello world!"


def test_the_end_of_a_message_delivers_what_its_stream_did_not() -> None:
    log = ProgressLog()
    log.publish(chunks("msg_1", (0, "Hello"), (1, " wor")))
    log.message_done(answer("Hello world!"))
    assert text(log) == "Hello world!"
    assert isinstance(log.events[-1], TextDone)
    assert log.events[-1].text == "Hello world!"


def test_a_message_never_streamed_arrives_whole_once() -> None:
    log = ProgressLog()
    log.message_done(answer("All of it."))
    log.message_done(answer("All of it."))
    assert text(log) == "All of it."
    assert [e.type for e in log.events] == ["text.delta", "text.done"]


def test_chunks_arriving_after_their_message_ended_are_dropped() -> None:
    log = ProgressLog()
    log.message_done(answer("Done."))
    log.publish(chunks("msg_1", (9, "late")))
    assert text(log) == "Done."


def test_chunks_of_one_batch_join_but_an_event_already_readable_never_changes() -> None:
    log = ProgressLog()
    log.publish(chunks("msg_1", (0, "a"), (1, "b")))
    first = log.page(ProgressRequest()).events
    log.publish(chunks("msg_1", (2, "c")))
    assert first == log.page(ProgressRequest()).events[:1]
    assert [e.delta for e in log.events if isinstance(e, TextDelta)] == ["ab", "c"]


def test_user_messages_are_not_progress() -> None:
    log = ProgressLog()
    log.message_done(RunMessage(id="msg_u", role="user", text="question"))
    assert log.events == []


def test_phases_are_events_only_when_they_change() -> None:
    log = ProgressLog()
    log.phase(RunPhase.creating, "creating the run")
    log.phase(RunPhase.creating, "creating the run")
    log.phase(RunPhase.in_progress, "the model is writing")
    assert [e.offset for e in log.events] == [0, 1]


def test_a_tool_call_finishes_once_and_its_output_is_cut_for_followers() -> None:
    log = ProgressLog()
    result = ToolCallResult(id="call_1", name="big", arguments="{}", output="x" * 10_000)
    log.tool_finished(result)
    log.tool_finished(result)
    assert len(log.events) == 1
    assert len(getattr(log.events[0], "output", "")) == 4_000


def test_usage_is_reported_when_it_changes() -> None:
    log = ProgressLog()
    log.usage(Usage())
    log.usage(Usage(total_tokens=5))
    log.usage(Usage(total_tokens=5))
    assert len(log.events) == 1


def test_the_end_is_the_last_event_and_pages_say_so() -> None:
    log = ProgressLog()
    log.phase(RunPhase.creating, "creating")
    assert not log.page(ProgressRequest()).ended
    log.run_ended(RunResult(status="completed", thread_id=None, run_id=None, assistant_id=None))
    log.run_failed("too late")
    log.publish(chunks("msg_2", (0, "too late")))
    assert [type(e) for e in log.events][-1] is RunEnded
    assert len(log.events) == 2
    assert log.page(ProgressRequest()).ended
    assert not log.page(ProgressRequest(max_events=1)).ended
    assert log.page(ProgressRequest(from_offset=2)).ended


def test_a_page_stays_small_and_says_where_to_read_on() -> None:
    log = ProgressLog()
    for n in range(5):
        log.message_done(answer("y" * (PAGE_CHARS // 2), f"msg_{n}"))
    page = log.page(ProgressRequest())
    assert 0 < len(page.events) < len(log.events)
    rest = log.page(ProgressRequest(from_offset=page.next_offset))
    assert rest.events[0].offset == page.next_offset
    assert log.page(ProgressRequest(from_offset=10_000)).next_offset == len(log.events)


def test_code_interpreter_events_reach_only_followers_that_ask_and_offsets_hold() -> None:
    log = ProgressLog()
    log.phase(RunPhase.in_progress, "thinking")
    log.code_ran(CodeInterpreterCall(id="ci_1", code="df.sum()", logs="42"))
    log.code_ran(CodeInterpreterCall(id="ci_1", code="df.sum()", logs="42"))  # seen again
    log.message_done(answer("Charted."))
    unaware = log.page(ProgressRequest())
    aware = log.page(ProgressRequest(code_interpreter=True))
    assert [e.type for e in unaware.events] == ["phase", "text.delta", "text.done"]
    assert [e.type for e in aware.events] == [
        "phase",
        "code_interpreter.ran",
        "text.delta",
        "text.done",
    ]
    assert unaware.next_offset == aware.next_offset == 4
    assert [e.offset for e in unaware.events] == [0, 2, 3]
    rest = log.page(ProgressRequest(from_offset=1, max_events=1))
    assert (rest.events, rest.next_offset) == ([], 2), "skipped, but read past"


def test_a_log_carried_into_a_new_execution_keeps_its_offsets_and_its_last_events() -> None:
    log = ProgressLog()
    for n in range(300):
        log.phase(RunPhase.running_tools, f"round {n}")
    carried = ProgressLog(ProgressLog.carry(log))
    assert [e.offset for e in carried.events] == list(range(100, 300))  # the last 200
    carried.phase(RunPhase.submitting_outputs, "after")
    assert carried.events[-1].offset == 300
    caught_up = carried.page(ProgressRequest(from_offset=299))
    assert ([e.offset for e in caught_up.events], caught_up.next_offset) == ([299, 300], 301)
    behind = carried.page(ProgressRequest(from_offset=3))  # what was dropped: from the first kept
    assert behind.events[0].offset == 100
    assert carried.page(ProgressRequest(from_offset=301)).events == []
