"""The gateway's rules that need no server: token configuration, whose a workflow id is,
error bodies, and the conversation config kept in step with `ThreadConfig`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from workers.gateway.auth import load_tokens, token_digest
from workers.gateway.errors import field_path, validation_error
from workers.gateway.models import ConversationConfig
from workers.gateway.tenancy import is_tenants_run, run_workflow_id
from workers.settings import Settings, SettingsError
from workflows.contracts import RunRequest, ThreadConfig

A, B = token_digest("token-a"), token_digest("token-b")


def settings(**fields: object) -> Settings:
    return Settings.model_validate({"api_tokens": None, "api_tokens_file": None, **fields})


def test_tokens_from_the_variable_name_their_tenants() -> None:
    tokens = load_tokens(settings(api_tokens=SecretStr(f"acme:{A}, globex:{B.upper()}")))
    assert tokens.tenant_of("Bearer token-a") == "acme"
    assert tokens.tenant_of("bearer token-b") == "globex"
    for header in (None, "", "Bearer", "Bearer token-c", "Basic token-a", "token-a"):
        assert tokens.tenant_of(header) is None


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_tokens_from_a_file_add_to_the_variables(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"tokens{suffix}"
    path.write_text(json.dumps([{"tenant": "globex", "sha256": B}]))
    tokens = load_tokens(settings(api_tokens=SecretStr(f"acme:{A}"), api_tokens_file=path))
    assert [entry.tenant for entry in tokens.entries] == ["acme", "globex"]


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (f"ac.me:{A}", "API_TOKENS #1: tenant"),
        ("acme:not-a-digest", "API_TOKENS #1: sha256"),
        (f"acme:{A},globex", "API_TOKENS #2: sha256"),
        (f"acme:{A},globex:{A}", "one token is configured twice"),
        ("", "needs at least one token"),
    ],
)
def test_a_bad_token_configuration_names_what_is_wrong(value: str, named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_tokens(settings(api_tokens=SecretStr(value)))


def test_a_bad_token_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text("tenant: acme\n")
    with pytest.raises(SettingsError, match=f"API_TOKENS_FILE: {path}: expected a list"):
        load_tokens(settings(api_tokens_file=path))
    with pytest.raises(SettingsError, match="API_TOKENS_FILE: cannot read"):
        load_tokens(settings(api_tokens_file=tmp_path / "missing.yaml"))


@pytest.mark.parametrize(
    ("workflow_id", "owned"),
    [
        ("run-acme.order-7", True),
        ("thread-acme.user-42/run-3", True),
        ("thread-acme.user-42", False),  # the conversation itself is not a run
        ("run-acmeco.x", False),
        ("run-acme", False),
        ("thread-acmeco.k/run-1", False),
        ("run-globex.acme", False),
        ("run-acme.x/run-1", False),
        ("thread-acme.k/run-1/run-2", False),
    ],
)
def test_a_run_is_the_tenants_by_its_id(workflow_id: str, owned: bool) -> None:
    assert is_tenants_run("acme", workflow_id) is owned


def test_an_idempotency_key_is_the_workflow_id_under_the_tenant() -> None:
    assert run_workflow_id("acme", "order-7") == "run-acme.order-7"
    assert run_workflow_id("acme", None).startswith("run-acme.")
    assert run_workflow_id("acme", None) != run_workflow_id("acme", None)


def test_an_invalid_body_names_the_field_path() -> None:
    assert field_path(("body", "messages", 0, "content")) == "messages[0].content"
    with pytest.raises(ValidationError) as invalid:
        RunRequest.model_validate({"assistant_id": "a", "messages": [{"content": ""}], "x": 1})
    refused = validation_error(list(invalid.value.errors()))
    assert refused.param == "x"
    assert refused.message.startswith("x: Extra inputs are not permitted; messages[0].content:")


def test_the_conversation_config_is_a_thread_config_without_what_the_gateway_sets() -> None:
    thread = {name: field.default for name, field in ThreadConfig.model_fields.items()}
    ours = {name: field.default for name, field in ConversationConfig.model_fields.items()}
    gateways = ("key", "carried", "previous_run_id")
    assert ours == {k: v for k, v in thread.items() if k not in gateways}
