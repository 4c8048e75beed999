"""What every command of the CLI shares: its console and settings."""

from __future__ import annotations

import base64

from rich.console import Console

from workers.logging import configure_logging
from workers.settings import Settings, load_settings

console = Console(stderr=True, soft_wrap=True)
"""Never wraps: a link or an id broken across lines can be neither clicked nor copied."""


def cli_settings() -> Settings:
    """The settings, with logging configured to redact their secrets."""
    settings = load_settings()
    secrets = [
        secret.get_secret_value()
        for secret in (settings.openai_api_key, settings.temporal_api_key)
        if secret is not None
    ]
    secrets += [base64.b64encode(key.secret).decode() for key in settings.encryption_keys]
    configure_logging(settings.log_format, settings.log_level, secrets)
    return settings
