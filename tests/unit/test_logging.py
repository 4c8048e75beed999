import json
import logging

import pytest
import structlog

from workers.logging import REDACTED, SecretRedactor, configure_logging


def _last_json_line(text: str) -> dict[str, object]:
    line = text.strip().splitlines()[-1]
    parsed: dict[str, object] = json.loads(line)
    return parsed


def test_known_secret_values_are_redacted_wherever_they_appear() -> None:
    redactor = SecretRedactor(["my-org-key-1234"])
    event = redactor(
        None, "info", {"event": "calling with my-org-key-1234", "nested": ["x my-org-key-1234"]}
    )
    assert event == {"event": f"calling with {REDACTED}", "nested": [f"x {REDACTED}"]}


def test_openai_keys_and_bearer_tokens_are_redacted_by_pattern() -> None:
    redactor = SecretRedactor()
    event = redactor(
        None,
        "info",
        {"event": "headers", "detail": "Authorization: Bearer abc.def-ghi and sk-proj-AbC123xyz"},
    )
    assert "abc.def-ghi" not in str(event)
    assert "sk-proj-AbC123xyz" not in str(event)


def test_secret_named_keys_are_redacted_at_any_depth() -> None:
    redactor = SecretRedactor()
    event = redactor(
        None,
        "info",
        {"event": "x", "config": {"api_key": "plain", "headers": {"Authorization": "x"}}},
    )
    assert event["config"] == {"api_key": REDACTED, "headers": {"Authorization": REDACTED}}


def test_json_output_binds_temporal_ids_and_redacts(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "INFO", secrets=["sk-test-secret-value"])
    logging.getLogger("temporalio.activity").info(
        "tool ran with sk-test-secret-value",
        extra={"temporal_activity": {"activity_id": "7", "workflow_id": "run-1"}},
    )
    record = _last_json_line(capsys.readouterr().err)
    assert record["event"] == f"tool ran with {REDACTED}"
    assert record["activity_id"] == "7"
    assert record["workflow_id"] == "run-1"
    assert record["level"] == "info"


def test_structlog_loggers_share_the_same_output(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "INFO")
    structlog.get_logger("x").warning("hello", token="abc")
    record = _last_json_line(capsys.readouterr().err)
    assert record == {**record, "event": "hello", "token": REDACTED, "level": "warning"}


def test_level_filters_lower_levels(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "WARNING")
    logging.getLogger("x").info("quiet")
    assert capsys.readouterr().err == ""
