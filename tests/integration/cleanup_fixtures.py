"""An emulator of a module's own, for tests that delete everything old in it (cleanup), and
the settings and client that reach it. Re-exported by `conftest.py` (after it defines what
this module takes from it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from openai import AsyncOpenAI

from emulator.config import EmulatorConfig
from emulator.server import BackgroundEmulator
from tests.integration.conftest import API_KEY, FAST
from workers.settings import Settings


@pytest.fixture(scope="module")
def own_api() -> Iterator[BackgroundEmulator]:
    """An emulator of its own: cleanup deletes everything old in it."""
    with BackgroundEmulator(EmulatorConfig(api_key=API_KEY, timings=FAST)) as server:
        yield server


@pytest.fixture
def cleanup_settings(settings: Settings, own_api: BackgroundEmulator) -> Settings:
    return settings.model_copy(update={"openai_base_url": own_api.base_url})


@pytest.fixture
async def own_openai(own_api: BackgroundEmulator) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(base_url=own_api.base_url, api_key=API_KEY) as client:
        yield client
