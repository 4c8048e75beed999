"""How the emulator behaves: model timings, authentication and injected faults."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator


class Timings(BaseModel):
    """Seconds each phase of the emulated model takes. Tests use small values, benchmarks
    realistic ones; a run or response can override them with an `[[emulator ...]]` directive."""

    queued: float = Field(0.05, ge=0)
    in_progress: float = Field(0.2, ge=0)
    cancelling: float = Field(0.05, ge=0)
    run_expiry: float = Field(600.0, gt=0, description="the Assistants API's 10 minutes")
    indexing: float = Field(0.1, ge=0, description="per vector store file")
    stream_delta_interval: float = Field(0.0, ge=0, description="pause between text deltas")


INJECTABLE_STATUSES = (429, 500, 502, 503)


class FaultRule(BaseModel):
    """An HTTP-level fault. Applies to requests whose `METHOD /path` matches `route`."""

    status: int | None = Field(None, description="429, 500, 502 or 503")
    retry_after: float | None = Field(None, ge=0, description="seconds, sent with 429/503")
    latency: float = Field(0.0, ge=0, description="seconds added before answering")
    drop: Literal["headers", "body", "stream", "error"] | None = Field(
        None,
        description="close the connection after the headers, halfway through a body, or "
        "after the first events of a stream; `error`: end a stream after its first events "
        "with an `error` event (server_error), as the API does when a stream fails",
    )
    error_code: str = Field(
        "server_error", description="with drop=error: the `code` of the stream's error event"
    )
    after_events: int = Field(
        2,
        ge=0,
        description="with drop=stream or error, or corrupt on a stream: how many events get "
        "through first",
    )
    corrupt: Literal["truncate", "unknown_status", "missing_fields"] | None = Field(
        None,
        description="malform a JSON response: cut it in half, give it an unknown `status`, or "
        "drop its `id` and `status`; on a stream, the same to each event's data (and the "
        "response it carries) after `after_events`",
    )
    quota: bool = Field(
        False,
        description="with status 429: OpenAI's `insufficient_quota` error (the account is out "
        "of credit: no retry helps) instead of a rate limit",
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="with status: response headers to send as well, as the API may (a raw "
        "`retry-after`, `x-should-retry`)",
    )
    rate: float = Field(1.0, ge=0, le=1, description="probability that a matching request is hit")
    times: int | None = Field(None, ge=1, description="stop after hitting this many requests")
    route: str = Field(".*", description="regular expression matched against 'METHOD /path'")

    @field_validator("status")
    @classmethod
    def _known_status(cls, status: int | None) -> int | None:
        if status not in (None, *INJECTABLE_STATUSES):
            raise ValueError(f"expected one of {INJECTABLE_STATUSES}")
        return status


class EmulatorConfig(BaseModel):
    api_key: str | None = Field(None, description="if set, the only accepted bearer token")
    timings: Timings = Field(default_factory=Timings)
    poll_after_ms: int | None = Field(
        None, ge=0, description="`openai-poll-after-ms` header sent on run retrievals"
    )
    faults: list[FaultRule] = Field(default_factory=list)
    seed: int = Field(0, description="seed of the fault dice, for repeatable fault sequences")
