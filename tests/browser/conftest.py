"""The browser tests use the integration fixtures: the dev server, a worker, the emulator and
the gateway."""

from tests.integration.conftest import (  # noqa: F401
    api,
    assistant,
    backend,
    counters,
    no_history_contains_a_secret,
    openai,
    settings,
    worker,
)
from tests.integration.gateway_fixtures import gateway  # noqa: F401
