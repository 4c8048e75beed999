"""Process settings, read once from the environment and an optional `.env` file.

Temporal connection settings use the same names as the Temporal CLI and are layered on top of a
`temporal.toml` profile (`temporalio.envconfig`), so one config file serves both.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from temporalio.envconfig import ClientConfigProfile, ClientConnectConfig
from temporalio.service import TLSConfig

from activities.prices import PricesFileError, PriceTable, load_prices
from workers.codec import EncryptionKey, parse_keys
from workflows.common import MAX_TOOL_OUTPUT_CHARS

DEFAULT_TASK_QUEUE = "durable-assistants"
EXAMPLE_TOOLS = "activities.example_tools"
"""The demo's tools: what `dev` serves unless TOOLS_MODULES says otherwise."""
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    temporal_profile: str | None = Field(None, description="Profile in temporal.toml")
    temporal_config_file: Path | None = Field(None, description="Path to temporal.toml")
    temporal_address: str | None = Field(None, description="host:port of the Temporal frontend")
    temporal_namespace: str | None = None
    temporal_task_queue: str = DEFAULT_TASK_QUEUE
    temporal_api_key: SecretStr | None = None
    temporal_ui_url: str = Field("http://localhost:8233", description="Web UI, for links")
    temporal_tls: bool | None = None
    temporal_tls_server_name: str | None = None
    temporal_tls_server_ca_cert_path: Path | None = None
    temporal_tls_client_cert_path: Path | None = None
    temporal_tls_client_key_path: Path | None = None

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_org_id: str | None = None
    openai_project_id: str | None = None
    openai_backend: Literal["assistants", "responses"] = "responses"
    openai_max_connections: int = Field(
        1000,
        ge=1,
        description="HTTP connections the worker's OpenAI client may hold: a run it follows "
        "holds one while it streams, and one beyond this waits for a free connection",
    )

    log_format: Literal["auto", "pretty", "json"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    graceful_shutdown_seconds: float = Field(30.0, gt=0)
    max_concurrent_activities: int = Field(
        2000, ge=1, description="activity slots; every run in flight holds one while it waits"
    )
    heartbeat_throttle_seconds: float = Field(
        2.0, gt=0, description="longest gap between heartbeats sent; bounds how late a cancel lands"
    )

    model_requests_per_second: float | None = Field(
        None,
        gt=0,
        description="fleet-wide rate of model requests (runs and responses created, tool "
        "outputs submitted), held by the Temporal server across every worker (unset: unlimited)",
    )
    model_tokens_per_minute: str = Field(
        "",
        description="fleet-wide token budgets per model, `MODEL=TOKENS,...`: once a model's "
        "are spent in the current window, new runs on it wait for the next (unset: no pacing)",
    )
    model_tokens_window_seconds: float = Field(
        60.0, gt=0, description="the pacing window of MODEL_TOKENS_PER_MINUTE"
    )

    worker_deployment_name: str | None = Field(
        None, description="Worker Deployment versioning: the deployment this worker belongs to"
    )
    worker_build_id: str | None = Field(
        None, description="Worker Deployment versioning: this worker's version (build id)"
    )

    metrics_port: int | None = Field(
        None, gt=0, lt=65536, description="Prometheus metrics at :PORT/metrics (unset: off)"
    )
    health_port: int | None = Field(
        None, gt=0, lt=65536, description="worker: /livez and /readyz on :PORT (unset: off)"
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        None, description="OpenTelemetry traces go to this OTLP/HTTP collector (unset: off)"
    )
    otel_service_name: str | None = Field(
        None, description="the traces' service.name (default: durable-assistants-<command>)"
    )

    tools_modules: str = Field(
        "", description="comma-separated modules whose @tool functions the worker serves"
    )
    tool_output_max_chars: int = Field(16_000, gt=0, le=MAX_TOOL_OUTPUT_CHARS)

    model_prices_file: Path | None = Field(
        None,
        description="a YAML file of USD prices per 1M input/output tokens per model, replacing "
        "the shipped table (activities/model_prices.yaml) behind the runs' cost estimates",
    )

    api_tokens: SecretStr | None = Field(
        None,
        description="`serve`: bearer tokens as `tenant:sha256hex,...` (the sha256 of each token "
        "in hex, never the token itself)",
    )
    api_tokens_file: Path | None = Field(
        None,
        description="`serve`: a YAML or JSON file with a list of {tenant, sha256}, besides "
        "API_TOKENS",
    )
    api_max_body_bytes: int = Field(
        1024 * 1024, gt=0, description="`serve`: larger request bodies are refused with 413"
    )
    api_max_streams_per_tenant: int = Field(
        100,
        gt=0,
        description="`serve`: event streams (SSE) one tenant may hold open at once on one "
        "gateway process; one more is refused with 429",
    )
    api_cors_origins: str = Field(
        "",
        description="`serve`: comma-separated origins browsers may call the API from (default "
        "none: only the page it serves itself)",
    )

    payload_encryption_keys: SecretStr | None = Field(
        None,
        description="payloads encrypted with AES-256-GCM, as `KEY_ID:BASE64_KEY,...` (32-byte "
        "keys): new payloads use the last key, every key decodes (unset: not encrypted)",
    )
    codec_server_tokens: str = Field(
        "",
        description="`codec-server`: accepted bearer tokens as `sha256hex,...` (the sha256 of "
        "each token in hex)",
    )
    codec_server_cors_origins: str | None = Field(
        None,
        description="`codec-server`: comma-separated origins browsers may call it from "
        "(default: TEMPORAL_UI_URL's origin)",
    )

    def workflow_ui_url(self, workflow_id: str) -> str:
        """The workflow's page in the Temporal UI (a conversation's run ids hold a `/`)."""
        namespace = quote(self.temporal_namespace or "default", safe="")
        return f"{self.temporal_ui_url.rstrip('/')}/namespaces/{namespace}/workflows/" + quote(
            workflow_id, safe=""
        )

    @field_validator("temporal_address")
    @classmethod
    def _address_is_host_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _HOST_PORT.match(value)
        if not match or not 0 < int(match.group(2)) < 65536:
            raise ValueError(f"expected host:port, got {value!r}")
        return value

    @field_validator("model_prices_file")
    @classmethod
    def _prices_load(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                load_prices(value)
            except PricesFileError as err:
                raise ValueError(str(err)) from None
        return value

    def model_prices(self) -> PriceTable:
        """The price table: MODEL_PRICES_FILE's, else the shipped defaults."""
        return load_prices(self.model_prices_file)

    @field_validator("payload_encryption_keys")
    @classmethod
    def _keys_parse(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        parse_keys(value.get_secret_value())
        return value

    @field_validator("codec_server_tokens")
    @classmethod
    def _tokens_are_digests(cls, value: str) -> str:
        digests = [item.strip().lower() for item in value.split(",") if item.strip()]
        for number, digest in enumerate(digests, 1):
            if not _SHA256.match(digest):
                raise ValueError(
                    f"entry #{number}: expected the sha256 of a token in hex (64 characters; "
                    "`durable-assistants codec-token` makes one)"
                )
        if len(set(digests)) != len(digests):
            raise ValueError("one token is configured twice")
        return ",".join(digests)

    @model_validator(mode="after")
    def _deployment_named_with_build(self) -> Settings:
        if (self.worker_deployment_name is None) != (self.worker_build_id is None):
            raise ValueError(
                "WORKER_DEPLOYMENT_NAME, WORKER_BUILD_ID: set both (versioned) or neither"
            )
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @property
    def cors_origins(self) -> list[str]:
        return [origin.strip() for origin in self.api_cors_origins.split(",") if origin.strip()]

    @property
    def encryption_keys(self) -> tuple[EncryptionKey, ...]:
        """PAYLOAD_ENCRYPTION_KEYS, oldest first; empty when payloads are not encrypted."""
        if self.payload_encryption_keys is None:
            return ()
        return parse_keys(self.payload_encryption_keys.get_secret_value())

    @property
    def codec_server_digests(self) -> list[str]:
        return [digest for digest in self.codec_server_tokens.split(",") if digest]

    @property
    def codec_cors_origins(self) -> list[str]:
        """CODEC_SERVER_CORS_ORIGINS, or the origin of TEMPORAL_UI_URL."""
        if self.codec_server_cors_origins is not None:
            origins = self.codec_server_cors_origins.split(",")
            return [origin.strip().rstrip("/") for origin in origins if origin.strip()]
        url = urlsplit(self.temporal_ui_url)
        return [f"{url.scheme}://{url.netloc}"] if url.scheme and url.netloc else []

    @field_validator("model_tokens_per_minute")
    @classmethod
    def _token_budgets_parse(cls, value: str) -> str:
        parse_token_budgets(value)
        return value

    @property
    def model_token_budgets(self) -> dict[str, int]:
        return parse_token_budgets(self.model_tokens_per_minute)

    @property
    def tool_modules(self) -> list[str]:
        return [module.strip() for module in self.tools_modules.split(",") if module.strip()]

    def temporal_connect_config(self) -> ClientConnectConfig:
        """`Client.connect` arguments: the temporal.toml profile, overridden by these settings."""
        try:
            profile = ClientConfigProfile.load(
                profile=self.temporal_profile,
                config_source=self.temporal_config_file,
                disable_env=True,
            )
        except Exception as err:  # the bridge raises plain RuntimeErrors
            raise SettingsError(f"TEMPORAL_CONFIG_FILE/TEMPORAL_PROFILE: {err}") from err
        config = profile.to_client_connect_config()
        config.setdefault("target_host", "localhost:7233")
        if self.temporal_address:
            config["target_host"] = self.temporal_address
        if self.temporal_namespace:
            config["namespace"] = self.temporal_namespace
        if self.temporal_api_key:
            config["api_key"] = self.temporal_api_key.get_secret_value()
            config.setdefault("tls", True)
        tls = self._tls_config()
        if tls is not None:
            config["tls"] = tls
        return config

    def _tls_config(self) -> bool | TLSConfig | None:
        files = {
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH": self.temporal_tls_server_ca_cert_path,
            "TEMPORAL_TLS_CLIENT_CERT_PATH": self.temporal_tls_client_cert_path,
            "TEMPORAL_TLS_CLIENT_KEY_PATH": self.temporal_tls_client_key_path,
        }
        if self.temporal_tls is False:
            return False
        if not any(files.values()) and not self.temporal_tls_server_name:
            return self.temporal_tls
        ca, cert, key = (_read_file(variable, path) for variable, path in files.items())
        return TLSConfig(
            server_root_ca_cert=ca,
            domain=self.temporal_tls_server_name,
            client_cert=cert,
            client_private_key=key,
        )


def parse_token_budgets(text: str) -> dict[str, int]:
    """`MODEL=TOKENS,...` as a dict; a `ValueError` names the entry that is wrong."""
    budgets: dict[str, int] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        model, equals, tokens = (part.strip() for part in entry.partition("="))
        if not equals or not model or not tokens.isdigit() or int(tokens) < 1:
            raise ValueError(f"{entry!r}: expected MODEL=TOKENS with TOKENS a positive integer")
        if model in budgets:
            raise ValueError(f"{model!r} is given twice")
        budgets[model] = int(tokens)
    return budgets


def _read_file(variable: str, path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as err:
        raise SettingsError(f"{variable}: cannot read {path}: {err.strerror}") from err


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning validation failures into a one-line `SettingsError`."""
    try:
        return Settings(**overrides)
    except ValidationError as err:
        raise SettingsError(_describe(err)) from None


def _describe(err: ValidationError) -> str:
    problems = []
    for error in err.errors(include_url=False):
        variable = "_".join(str(part) for part in error["loc"]).upper() or "settings"
        problems.append(f"{variable}: {error['msg']}")
    return "invalid setting " + "; ".join(problems)
