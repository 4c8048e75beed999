"""What marks an object as this system's own, so cleanup touches nothing else.

Objects with metadata carry `created_by: durable-assistants` and the id of the workflow that
created them. Files carry no metadata: their uploaded name does (`notes.md` becomes
`notes.da-3f2a9c1b7d4e5f60.md`, with 16 hex digits of the content's sha256), which also lets a
retried or repeated upload find the file instead of sending it again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePath

from temporalio import activity

OWNER_KEY = "created_by"
OWNER = "durable-assistants"
WORKFLOW_KEY = "workflow_id"
_OWNED_FILE = re.compile(r"\.da-([0-9a-f]{16})(\.[^.]*)?$")


def owned_metadata(metadata: Mapping[str, str] | None = None) -> dict[str, str]:
    """`metadata` plus the tags that say this system (and which workflow) created it."""
    tags = {OWNER_KEY: OWNER}
    if activity.in_activity() and activity.info().workflow_id:
        tags[WORKFLOW_KEY] = activity.info().workflow_id or ""
    return {**(metadata or {}), **tags}


def is_owned(metadata: Mapping[str, object] | None) -> bool:
    return (metadata or {}).get(OWNER_KEY) == OWNER


def owned_file_name(name: str, digest: str) -> str:
    """The name to upload `name` under, for content whose sha256 starts with `digest`."""
    path = PurePath(name)
    return f"{path.stem}.da-{digest}{path.suffix}"


def owned_file_digest(filename: str) -> str | None:
    """The content digest in the name of a file this system uploaded; None for others."""
    match = _OWNED_FILE.search(filename)
    return match[1] if match else None
