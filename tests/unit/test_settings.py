from pathlib import Path

import pytest

from workers.settings import SettingsError, load_settings


@pytest.mark.usefixtures("isolated_env")
class TestSettings:
    def test_defaults_point_at_a_local_dev_server(self) -> None:
        config = load_settings().temporal_connect_config()
        assert config["target_host"] == "localhost:7233"
        assert load_settings().temporal_task_queue == "durable-assistants"

    def test_malformed_address_names_the_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("TEMPORAL_ADDRESS", "localhost")
        with pytest.raises(SettingsError, match=r"^invalid setting TEMPORAL_ADDRESS: .*host:port"):
            load_settings()

    @pytest.mark.parametrize("address", ["example.com:0", "example.com:99999", "a b:7233"])
    def test_out_of_range_or_spaced_addresses_are_refused(
        self, monkeypatch: pytest.MonkeyPatch, address: str
    ) -> None:
        monkeypatch.setenv("TEMPORAL_ADDRESS", address)
        with pytest.raises(SettingsError, match="TEMPORAL_ADDRESS"):
            load_settings()

    def test_unknown_backend_names_the_variable_and_the_choices(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("OPENAI_BACKEND", "chat")
        with pytest.raises(SettingsError, match=r"OPENAI_BACKEND: .*'assistants' or 'responses'"):
            load_settings()

    @pytest.mark.parametrize(
        ("budgets", "problem"),
        [
            ("gpt-4o", "'gpt-4o': expected MODEL=TOKENS"),
            ("gpt-4o=0", "'gpt-4o=0': expected MODEL=TOKENS with TOKENS a positive integer"),
            ("=5", "'=5': expected MODEL=TOKENS"),
            ("gpt-4o=5,gpt-4o=6", "'gpt-4o' is given twice"),
        ],
    )
    def test_malformed_token_budgets_name_the_variable_and_the_entry(
        self, monkeypatch: pytest.MonkeyPatch, budgets: str, problem: str
    ) -> None:
        monkeypatch.setenv("MODEL_TOKENS_PER_MINUTE", budgets)
        with pytest.raises(SettingsError) as raised:
            load_settings()
        assert str(raised.value).startswith("invalid setting MODEL_TOKENS_PER_MINUTE: ")
        assert problem in str(raised.value)

    def test_token_budgets_are_read_per_model(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MODEL_TOKENS_PER_MINUTE", "gpt-4o=30000, gpt-4o-mini=5")
        assert load_settings().model_token_budgets == {"gpt-4o": 30000, "gpt-4o-mini": 5}

    def test_error_is_one_line(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OPENAI_BACKEND", "chat")
        monkeypatch.setenv("LOG_LEVEL", "loud")
        with pytest.raises(SettingsError) as raised:
            load_settings()
        assert "\n" not in str(raised.value)
        assert "OPENAI_BACKEND" in str(raised.value)
        assert "LOG_LEVEL" in str(raised.value)

    def test_dotenv_file_is_read(self, isolated_env: Path) -> None:
        (isolated_env / ".env").write_text("OPENAI_BACKEND=responses\nlog_level=debug\n")
        settings = load_settings()
        assert settings.openai_backend == "responses"
        assert settings.log_level == "DEBUG"

    def test_temporal_toml_profile_is_used_and_env_overrides_it(
        self, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        toml = isolated_env / "temporal.toml"
        toml.write_text(
            '[profile.cloud]\naddress = "ns.acct.tmprl.cloud:7233"\n'
            'namespace = "ns.acct"\napi_key = "tcld-key"\n'
        )
        monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(toml))
        monkeypatch.setenv("TEMPORAL_PROFILE", "cloud")
        config = load_settings().temporal_connect_config()
        assert config["target_host"] == "ns.acct.tmprl.cloud:7233"
        assert config["namespace"] == "ns.acct"
        assert config["api_key"] == "tcld-key"
        assert config["tls"] is True

        monkeypatch.setenv("TEMPORAL_NAMESPACE", "other")
        assert load_settings().temporal_connect_config()["namespace"] == "other"

    def test_api_key_turns_tls_on(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("TEMPORAL_API_KEY", "secret")
        config = load_settings().temporal_connect_config()
        assert config["api_key"] == "secret"
        assert config["tls"] is True

    def test_unreadable_client_cert_names_the_variable(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", "/nonexistent/cert.pem")
        with pytest.raises(SettingsError, match="TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read"):
            load_settings().temporal_connect_config()

    def test_missing_profile_is_a_settings_error(
        self, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        toml = isolated_env / "temporal.toml"
        toml.write_text('[profile.default]\naddress = "localhost:7233"\n')
        monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(toml))
        monkeypatch.setenv("TEMPORAL_PROFILE", "nope")
        with pytest.raises(SettingsError, match="TEMPORAL_PROFILE"):
            load_settings().temporal_connect_config()

    def test_openai_key_is_kept_secret_in_repr(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-live-abcdef123456")
        assert "sk-live" not in repr(load_settings())
