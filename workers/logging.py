"""structlog, configured once for the whole process.

Everything goes through the standard library's root logger and one structlog formatter, so the
Temporal SDK's own loggers, `workflow.logger`, `activity.logger` and `structlog.get_logger()` all
come out in the same format. The SDK's logger adapters put the workflow/activity identity in
`extra`; `_bind_temporal_context` lifts it into top-level keys, and `SecretRedactor` runs last so
no API key or bearer token reaches a log line. The SDK's Rust core would write its own lines to
stderr: `workers.telemetry.temporal_runtime` forwards them to the `temporalio.core` logger.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, Literal

import structlog
from temporalio import activity, workflow

REDACTED = "[REDACTED]"
_SECRET_KEYS = re.compile(r"api[_-]?key|authorization|token|secret|password", re.IGNORECASE)
_SECRET_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9_\-.=:/+]+"),
)
_TEMPORAL_EXTRAS = ("temporal_workflow", "temporal_activity")


class SecretRedactor:
    """Replaces secrets anywhere in an event: known values, secret-named keys, token patterns."""

    def __init__(self, known_secrets: Iterable[str] = ()) -> None:
        self._known = sorted({s for s in known_secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, _: Any, __: str, event_dict: MutableMapping[str, Any]) -> Any:
        return {key: self._clean(key, value) for key, value in event_dict.items()}

    def redact_text(self, text: str) -> str:
        for secret in self._known:
            text = text.replace(secret, REDACTED)
        for pattern in _SECRET_PATTERNS:
            text = pattern.sub(REDACTED, text)
        return text

    def _clean(self, key: str, value: Any) -> Any:
        if _SECRET_KEYS.search(key) and value not in (None, ""):
            return REDACTED
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, dict):
            return {k: self._clean(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean("", v) for v in value]
        return value


def _bind_temporal_context(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Any:
    record = event_dict.get("_record")
    for extra in _TEMPORAL_EXTRAS:
        details = getattr(record, extra, None)
        if isinstance(details, dict):
            for key, value in details.items():
                event_dict.setdefault(key, value)
    return event_dict


def configure_logging(
    log_format: Literal["auto", "pretty", "json"] = "auto",
    level: str = "INFO",
    secrets: Iterable[str] = (),
) -> None:
    """Route all logging through structlog; safe to call more than once (the last call wins)."""
    pretty = log_format == "pretty" or (log_format == "auto" and sys.stderr.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer() if pretty else structlog.processors.JSONRenderer()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _bind_temporal_context,
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            SecretRedactor(secrets),
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    # The ids are bound as keys; repeating them in the message text is noise.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
