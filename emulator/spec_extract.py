"""Extract the part of OpenAI's OpenAPI spec the emulator implements into `openapi.json`.

    python -m emulator.spec_extract ../shared/spec/openai-openapi.yaml

Keeps the implemented paths, the stream event schemas and everything they reference; rewrites
OpenAPI's `nullable: true` as JSON Schema (`anyOf [..., null]`) so a standard validator
understands it; drops the `x-oaiMeta` documentation blocks. The spec's `oneOf`s overlap (an
input message matches two of InputItem's branches), and the API accepts what matches any
branch, so they become `anyOf`; a `$recursiveRef` to the enclosing schema (CompoundFilter)
becomes a plain `$ref`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

PATHS = re.compile(
    r"^/(assistants|threads|files|vector_stores|responses|conversations|containers)(/|$)"
)
EXCLUDED = ("?beta", "/compact", "/input_tokens")
ROOT_SCHEMAS = ("AssistantStreamEvent", "ResponseStreamEvent", "Error", "ErrorResponse")
OUTPUT = Path(__file__).with_name("openapi.json")


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for k, v in node.items() if k != "$ref"))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _resolve(spec: dict[str, Any], ref: str) -> Any:
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _clean(node: Any, schema_ref: str = "#") -> Any:
    if isinstance(node, list):
        return [_clean(v, schema_ref) for v in node]
    if not isinstance(node, dict):
        return node
    if node.get("$recursiveRef") == "#":
        return {"$ref": schema_ref}
    cleaned = {
        "anyOf" if k == "oneOf" else k: _clean(v, schema_ref)
        for k, v in node.items()
        if k != "x-oaiMeta"
    }
    if cleaned.pop("nullable", False):
        description = cleaned.get("description")
        cleaned = {"anyOf": [cleaned, {"type": "null"}]}
        if description:
            cleaned["description"] = description
    return cleaned


def extract(spec: dict[str, Any]) -> dict[str, Any]:
    paths = {
        path: item
        for path, item in spec["paths"].items()
        if PATHS.match(path) and not any(marker in path for marker in EXCLUDED)
    }
    pending = _refs(paths) | {f"#/components/schemas/{name}" for name in ROOT_SCHEMAS}
    seen: set[str] = set()
    while pending - seen:
        ref = (pending - seen).pop()
        seen.add(ref)
        pending |= _refs(_resolve(spec, ref))
    components: dict[str, dict[str, Any]] = {}
    for ref in sorted(seen):
        _, section, name = ref.removeprefix("#/").split("/")
        components.setdefault(section, {})[name] = _clean(_resolve(spec, ref), ref)
    subset = {"openapi": spec["openapi"], "info": spec["info"], "paths": _clean(paths)}
    return {**subset, "components": components}


def main(source: str) -> None:
    import yaml  # only needed to regenerate, not at run time

    spec = yaml.load(Path(source).read_text(), Loader=yaml.CSafeLoader)
    OUTPUT.write_text(json.dumps(extract(spec), default=str, sort_keys=True, indent=1))
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main(sys.argv[1])
