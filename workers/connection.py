"""The Temporal client every process in this project uses."""

from __future__ import annotations

import asyncio
import dataclasses
import re

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from workers.codec import EncryptionCodec
from workers.settings import Settings, SettingsError
from workers.telemetry import Tracing, temporal_runtime

CONNECT_TIMEOUT_SECONDS = 15.0
_REASON = re.compile(r'message: "([^"]+)"')
_WHAT_TO_DO = (
    "check TEMPORAL_ADDRESS, or start a local Temporal with `durable-assistants dev`"
    " (or `make demo`)"
)


def data_converter(settings: Settings) -> DataConverter:
    """The pydantic data converter; with PAYLOAD_ENCRYPTION_KEYS, its payloads encrypted and
    failures' messages and stack traces moved into an (encrypted) payload too, since an error
    can quote what a tool or the API said."""
    keys = settings.encryption_keys
    if not keys:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(settings: Settings, tracing: Tracing | None = None) -> Client:
    """Connect with the project's data converter (`data_converter`) and the process's runtime
    (core logs through `logging`, metrics on METRICS_PORT), traced with `tracing`; an
    unreachable server is a `SettingsError`."""
    config = settings.temporal_connect_config()
    interceptors = [tracing.interceptor()] if tracing else []
    where = f"{config['target_host']} (namespace {config.get('namespace', 'default')})"
    try:
        return await asyncio.wait_for(
            Client.connect(
                **config,
                data_converter=data_converter(settings),
                runtime=temporal_runtime(settings.metrics_port),
                interceptors=interceptors,
            ),
            CONNECT_TIMEOUT_SECONDS,
        )
    except TimeoutError:
        reason = f"no answer in {CONNECT_TIMEOUT_SECONDS:.0f}s"
        raise SettingsError(f"cannot reach Temporal at {where}: {reason}; {_WHAT_TO_DO}") from None
    except RuntimeError as err:
        raise SettingsError(
            f"cannot reach Temporal at {where}: {_reason(err)}; {_WHAT_TO_DO}"
        ) from None


def _reason(err: RuntimeError) -> str:
    match = _REASON.search(str(err))
    return match.group(1) if match else str(err).splitlines()[0]
