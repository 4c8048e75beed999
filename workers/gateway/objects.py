"""The OpenAI objects a tenant names in a request, and whether each is the tenant's.

A tenant may name only objects this system made for it (the workers tag them with the
tenant of the workflow that made them: responses, threads, assistants, vector stores): a
thread to continue, an assistant, a vector store. Files, containers and prompts carry no
such record, so none is a tenant's: naming one is 404, exactly as for an object that does
not exist or is another tenant's. Fields only the operator sets (where workers write, retry
and timeout policies) are refused with a 400 naming them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import openai
from openai import AsyncOpenAI

from activities.ownership import tenant_owns
from workers.gateway.errors import ApiError
from workers.settings import Settings

Kind = Literal["thread", "assistant", "vector store", "file", "container", "prompt"]
OPERATOR_FIELDS = {
    "download_to": "where the workers write files is the operator's to set",
    "timeouts": "the workers' timeouts and retries are the operator's to set",
    "carried": "set by a run continuing as new only",
}
"""Run fields the operator sets (`durable-assistants` from the CLI or Temporal): refused over
HTTP."""
_LISTS: dict[str, Kind] = {"file_ids": "file", "vector_store_ids": "vector store"}
_SINGLE: dict[str, Kind] = {"file_id": "file", "container": "container"}
UNRECORDED: frozenset[Kind] = frozenset({"file", "container", "prompt"})


@dataclass(frozen=True)
class Named:
    """An OpenAI object a request names, and the field that names it."""

    field: str
    kind: Kind
    id: str


def named_objects(fields: Mapping[str, Any], prefix: str = "") -> list[Named]:
    """Every OpenAI object a `RunRequest`'s fields (or a conversation's config, defaults or
    message overrides) name: `thread_id`, `assistant_id`, `prompt.id`, and the files,
    vector stores and containers anywhere in its messages, assistant and tools."""
    found: list[Named] = []
    ids: tuple[tuple[str, Kind], ...] = (("thread_id", "thread"), ("assistant_id", "assistant"))
    for key, kind in ids:
        if isinstance(value := fields.get(key), str):
            found.append(Named(f"{prefix}{key}", kind, value))
    prompt = fields.get("prompt")
    if isinstance(prompt, Mapping) and isinstance(prompt.get("id"), str):
        found.append(Named(f"{prefix}prompt.id", "prompt", prompt["id"]))
    for key in ("messages", "attachments", "assistant", "tools", "tool_resources"):
        if key in fields:
            found += _walk(fields[key], f"{prefix}{key}")
    return found


def _walk(value: Any, path: str) -> Iterator[Named]:
    """File, vector store and container ids in tool objects, tool resources and
    attachments, wherever they nest (metadata and message text are not looked into)."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}"
            if key in ("metadata", "content"):
                continue
            if key in _SINGLE and isinstance(item, str):
                yield Named(where, _SINGLE[key], item)
            elif key in _LISTS and isinstance(item, list):
                yield from (
                    Named(f"{where}[{i}]", _LISTS[key], one)
                    for i, one in enumerate(item)
                    if isinstance(one, str)
                )
            else:
                yield from _walk(item, where)


def refuse_operator_fields(fields: Mapping[str, Any], prefix: str = "") -> None:
    """400 naming the first field only the operator sets."""
    for name, what in OPERATOR_FIELDS.items():
        if name in fields:
            raise ApiError(
                400,
                f"{prefix}{name}: {what}, not accepted over HTTP",
                "operator_field",
                f"{prefix}{name}",
            )


class Ownership:
    """Checks that every object a request names is the tenant's, reading each object's tags
    (with the OpenAI key of the workers' project: read-only, never sent anywhere else)."""

    def __init__(self, client: AsyncOpenAI | None) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> Ownership:
        key = settings.openai_api_key
        if key is None or not key.get_secret_value():
            return cls(None)
        return cls(
            AsyncOpenAI(
                api_key=key.get_secret_value(),
                base_url=settings.openai_base_url,
                organization=settings.openai_org_id,
                project=settings.openai_project_id,
            )
        )

    async def check(self, tenant: str, named: list[Named]) -> None:
        """404 naming the first object that is not the tenant's (all are looked up at once)."""
        owned = await asyncio.gather(*(self._owns(tenant, one) for one in named))
        for one, mine in zip(named, owned, strict=True):
            if not mine:
                raise ApiError(404, f"{one.field}: no {one.kind} {one.id}", "not_found", one.field)

    async def _owns(self, tenant: str, named: Named) -> bool:
        if named.kind in UNRECORDED:
            return False
        if self.client is None:
            raise ApiError(
                400,
                f"{named.field}: this gateway cannot check whose {named.kind} {named.id} is "
                "(serve has no OPENAI_API_KEY): naming OpenAI objects is off",
                "ownership_unchecked",
                named.field,
            )
        try:
            return tenant_owns(tenant, await self._metadata(named))
        except (openai.NotFoundError, openai.BadRequestError):
            return False
        except openai.APIError as err:
            raise ApiError(502, f"{named.field}: the OpenAI API did not answer: {err}") from None

    async def _metadata(self, named: Named) -> Mapping[str, object] | None:
        assert self.client is not None
        if named.kind == "thread" and named.id.startswith("resp_"):
            return (await self.client.responses.retrieve(named.id)).metadata
        if named.kind == "thread":
            return (await self.client.beta.threads.retrieve(named.id)).metadata
        if named.kind == "assistant":
            return (await self.client.beta.assistants.retrieve(named.id)).metadata
        return (await self.client.vector_stores.retrieve(named.id)).metadata


def run_fields(fields: Mapping[str, Any], prefix: str = "") -> list[Named]:
    """Refuse the operator's fields among a run's (a `RunRequest`, a conversation's
    `defaults` or a message's `overrides`); the objects they name."""
    refuse_operator_fields(fields, prefix)
    return named_objects(fields, prefix)
