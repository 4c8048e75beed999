"""What tests/deploy reads: the files under deploy/, parsed, and the names they must agree on."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from workers.settings import Settings
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
SCHEMAS = Path(__file__).resolve().parent / "schemas"

# The contract's ports (issue 21): what deploy/ publishes, probes and scrapes.
WORKER_METRICS_PORT = 9464
WORKER_HEALTH_PORT = 8081
SERVE_PORT = 8080
CODEC_SERVER_PORT = 8888

SETTINGS = frozenset(name.upper() for name in Settings.model_fields)


def is_setting(name: str) -> bool:
    """A variable the project reads: a setting, or OpenTelemetry's own (OTEL_*)."""
    return name in SETTINGS or name.startswith("OTEL_")


def search_attribute_types() -> dict[str, str]:
    """Every custom search attribute with its type as the Temporal CLI spells it (Keyword)."""
    return {
        key.name: "".join(part.capitalize() for part in key.indexed_value_type.name.split("_"))
        for key in SEARCH_ATTRIBUTES
    }


@cache
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    """A compose service's environment as a dict (both compose spellings)."""
    env = service.get("environment", {})
    if isinstance(env, list):
        return {k: v for k, _, v in (item.partition("=") for item in env)}
    return {str(k): None if v is None else str(v) for k, v in env.items()}


def kubernetes_files() -> list[Path]:
    return sorted(p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")


@cache
def kubernetes_documents() -> tuple[tuple[str, dict[str, Any]], ...]:
    """(file name, document) for every object in deploy/kubernetes, the kustomization aside."""
    return tuple(
        (path.name, document)
        for path in kubernetes_files()
        for document in yaml.safe_load_all(path.read_text())
        if document
    )


def objects(kind: str) -> list[dict[str, Any]]:
    return [document for _, document in kubernetes_documents() if document["kind"] == kind]


def named(kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects(kind) if o["metadata"]["name"] == name]
    return found


@dataclass
class Stage:
    """One stage of a Dockerfile: its base, name and instructions (continuations joined)."""

    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, instruction: str) -> list[str]:
        return [args for keyword, args in self.instructions if keyword == instruction]


def dockerfile_stages(text: str) -> list[Stage]:
    stages: list[Stage] = []
    logical = re.sub(r"\\\n", " ", text)
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(
                r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.I
            )
            assert match, f"unreadable FROM: {line}"
            stages.append(Stage(match.group(1), match.group(2) or str(len(stages))))
        elif stages:
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


def dockerfile() -> list[Stage]:
    return dockerfile_stages((DEPLOY / "Dockerfile").read_text())


def stages_behind(stages: list[Stage], target: str) -> list[Stage]:
    """The stages a target is built from: itself, its bases, and what it copies --from."""
    by_name = {stage.name: stage for stage in stages}
    seen: dict[str, Stage] = {}
    pending = [target]
    while pending:
        name = pending.pop()
        if name in seen or name not in by_name:
            continue  # an image from a registry
        stage = seen[name] = by_name[name]
        pending.append(stage.base)
        for copy in stage.arguments("COPY"):
            pending.extend(re.findall(r"--from=(\S+)", copy))
    return list(seen.values())


def pip_installs(stages: list[Stage]) -> set[str]:
    """What `pip install` is given, in these stages (quotes removed, options dropped)."""
    installed: set[str] = set()
    for stage in stages:
        for run in stage.arguments("RUN"):
            for command in re.split(r"&&|;", run):
                words = command.replace("'", " ").replace('"', " ").split()
                if "pip" in " ".join(words[:3]) and "install" in words:
                    after = words[words.index("install") + 1 :]
                    installed.update(word for word in after if not word.startswith("-"))
    return installed
