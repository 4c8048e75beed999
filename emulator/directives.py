"""`[[emulator key=value ...]]` directives: how a test scripts one run, response or file.

A directive may appear in a user message (it shapes the run or response that answers it), in a
file's content (it shapes that file's indexing), or in the `X-Emulator-Run` request header.
The model never sees directives: they are stripped from the text it reads.

Keys:
  queued=S in_progress=S cancelling=S   phase durations in seconds
  expires_in=S                          the run's `expires_at`, S seconds after creation
  fail=CODE[*N]                         the run fails with last_error.code CODE (server_error,
                                        rate_limit_exceeded, invalid_prompt); with *N only the
                                        first N runs on the thread fail
  fail_round=K                          with fail: the run fails once it has K rounds of tool
                                        outputs (responses: the response that follows K rounds)
  fail_model=MODEL[:CODE]               runs (responses) on model MODEL fail with last_error.code
                                        CODE (default server_error): a model that is down
  preamble=1                            the model writes a message before its first tool calls
  delta_interval=S                      pause between the answer's text deltas on its streams
  index=S                               seconds to index this file
  index=fail                            indexing always fails with server_error
  index_failures=N                      indexing fails with server_error on the first N attempts
  index_fail=CODE[*N]                   indexing fails with CODE (first N attempts only)
"""

from __future__ import annotations

import re

from emulator.config import Timings
from emulator.errors import invalid

_DIRECTIVE = re.compile(r"\[\[emulator(?P<body>[^\]]*)\]\]")
_PAIR = re.compile(r"(?P<key>[a-z_]+)=(?P<value>\S+)")


def parse_pairs(text: str) -> dict[str, str]:
    """`key=value key=value` as a dict; anything else in the text is an error."""
    pairs = {m["key"]: m["value"] for m in _PAIR.finditer(text)}
    leftover = _PAIR.sub("", text).strip()
    if leftover:
        raise invalid(f"Invalid emulator directive near {leftover!r}: expected key=value pairs.")
    return pairs


def directives(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for match in _DIRECTIVE.finditer(text):
        found.update(parse_pairs(match["body"]))
    return found


def strip(text: str) -> str:
    return _DIRECTIVE.sub("", text).strip()


def seconds(options: dict[str, str], key: str, default: float) -> float:
    raw = options.get(key)
    if raw is None:
        return default
    try:
        return max(0.0, float(raw.removesuffix("s")))
    except ValueError:
        raise invalid(f"Invalid emulator directive {key}={raw}: expected seconds.") from None


def delta_interval(options: dict[str, str], timings: Timings) -> float:
    return seconds(options, "delta_interval", timings.stream_delta_interval)


def failure(options: dict[str, str], key: str) -> tuple[str, int | None] | None:
    """`CODE` or `CODE*N` as (code, N or None for always)."""
    raw = options.get(key)
    if raw is None:
        return None
    code, _, times = raw.partition("*")
    if times and not times.isdigit():
        raise invalid(f"Invalid emulator directive {key}={raw}: expected CODE or CODE*N.")
    return code, int(times) if times else None


def failure_round(options: dict[str, str]) -> int:
    """`fail_round=K`: how many rounds of tool outputs a scripted failure waits for."""
    raw = options.get("fail_round", "0")
    if not raw.isdigit():
        raise invalid(f"Invalid emulator directive fail_round={raw}: expected a number.")
    return int(raw)


def model_failure(options: dict[str, str], model: str) -> str | None:
    """`fail_model=MODEL[:CODE]`: the failure code of a run on `model`, if it is the one down."""
    raw = options.get("fail_model")
    if raw is None:
        return None
    down, _, code = raw.partition(":")
    return (code or "server_error") if down == model else None
