"""Reusable prompts: made in OpenAI's dashboard (here through `PUT /_emulator/prompts/{id}`),
referenced by a response's `prompt` parameter with a version and template variables."""

from __future__ import annotations

import re

from emulator.errors import APIError
from emulator.store import JSON, Collection, Store

_VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def prompts(store: Store) -> Collection:
    return store.collection("prompts", "pmpt")


def define(store: Store, prompt_id: str, body: JSON) -> JSON:
    """A new version of the prompt (model, instructions with {{variables}}, tools)."""
    found = prompts(store).find(prompt_id)
    versions: list[JSON] = found.public["versions"] if found else []
    version = {**body, "version": str(len(versions) + 1)}
    versions.append(version)
    if found is None:
        prompts(store).add(prompt_id, {"id": prompt_id, "versions": versions}, None)
    return version


def resolve(store: Store, reference: JSON) -> JSON:
    """The request parameters a prompt reference stands for (its version, variables filled)."""
    found = prompts(store).find(reference["id"])
    if found is None:
        raise APIError(404, f"Prompt with id '{reference['id']}' not found.", param="prompt.id")
    versions: list[JSON] = found.public["versions"]
    wanted = reference.get("version")
    version = (
        versions[-1]
        if wanted is None
        else next((v for v in versions if v["version"] == str(wanted)), None)
    )
    if version is None:
        raise APIError(
            404, f"Prompt '{reference['id']}' has no version '{wanted}'.", param="prompt.version"
        )
    variables = reference.get("variables") or {}
    missing = sorted(set(_VARIABLE.findall(version.get("instructions", ""))) - set(variables))
    if missing:
        raise APIError(400, f"Missing prompt variables: {', '.join(missing)}.", param="prompt")
    instructions = _VARIABLE.sub(lambda m: str(variables[m[1]]), version.get("instructions", ""))
    resolved = {key: value for key, value in version.items() if key in ("model", "tools")}
    return {**resolved, "instructions": instructions, "version": version["version"]}
