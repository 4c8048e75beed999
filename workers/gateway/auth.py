"""Bearer tokens, each bound to a tenant. Only their sha256 digests are configured
(`API_TOKENS`, `API_TOKENS_FILE`); a presented token is hashed and compared with every digest in
constant time, so neither a token nor how close a guess came leaks."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workers.settings import Settings, SettingsError

TENANT_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
"""No dot: workflow ids put one after the tenant (`run-{tenant}.…`), so prefixes never collide."""
SHA256_PATTERN = r"^[0-9a-f]{64}$"


class TokenEntry(BaseModel):
    """One token of `API_TOKENS_FILE`: its tenant and the sha256 of the token, in hex."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str = Field(pattern=TENANT_PATTERN)
    sha256: str = Field(pattern=SHA256_PATTERN)


@dataclass(frozen=True)
class Tokens:
    entries: tuple[TokenEntry, ...]

    def tenant_of(self, authorization: str | None) -> str | None:
        """The tenant of an `Authorization: Bearer TOKEN` header; None if it names none."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        for entry in self.entries:  # every entry, found or not: the time says nothing
            if hmac.compare_digest(digest, bytes.fromhex(entry.sha256)) and found is None:
                found = entry.tenant
        return found


def token_digest(token: str) -> str:
    """What to configure for `token`: its sha256 in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def load_tokens(settings: Settings) -> Tokens:
    """The configured tokens; a malformed or missing configuration is a `SettingsError`
    naming the variable (`serve` refuses to start without a token)."""
    entries: list[TokenEntry] = []
    if settings.api_tokens is not None:
        entries += _from_variable(settings.api_tokens.get_secret_value())
    if settings.api_tokens_file is not None:
        entries += _from_file(settings.api_tokens_file)
    if not entries:
        raise SettingsError(
            "API_TOKENS, API_TOKENS_FILE: `serve` needs at least one token "
            "(`durable-assistants token TENANT` makes one)"
        )
    digests = [entry.sha256 for entry in entries]
    if len(set(digests)) != len(digests):
        raise SettingsError("API_TOKENS, API_TOKENS_FILE: one token is configured twice")
    return Tokens(tuple(entries))


def _from_variable(value: str) -> list[TokenEntry]:
    entries = []
    for number, item in enumerate((i.strip() for i in value.split(",") if i.strip()), 1):
        tenant, _, digest = item.partition(":")
        entries.append(
            _entry({"tenant": tenant, "sha256": digest.lower()}, f"API_TOKENS #{number}")
        )
    return entries


def _from_file(path: Path) -> list[TokenEntry]:
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as err:
        raise SettingsError(f"API_TOKENS_FILE: cannot read {path}: {err}") from None
    if not isinstance(data, list):
        raise SettingsError(f"API_TOKENS_FILE: {path}: expected a list of {{tenant, sha256}}")
    return [_entry(item, f"API_TOKENS_FILE {path} #{n}") for n, item in enumerate(data, 1)]


def _entry(data: Any, where: str) -> TokenEntry:
    try:
        return TokenEntry.model_validate(data)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "entry"
        raise SettingsError(
            f"{where}: {field}: {first['msg']} (expected tenant:sha256hex, the tenant of "
            "letters, digits, - and _)"
        ) from None


_bearer = HTTPBearer(auto_error=False, description="a token of API_TOKENS / API_TOKENS_FILE")


def _tenant(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The caller's tenant, which `guard.Guard` established before the route ran (the
    dependency on `_bearer` only documents the scheme in /openapi.json)."""
    tenant: str = request.state.tenant
    return tenant


Tenant = Annotated[str, Depends(_tenant)]
