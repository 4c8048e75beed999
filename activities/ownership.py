"""What marks an object as this system's own, and whose: cleanup and the workflows delete only
what they own, and a tenant names only what was made for it.

Objects with metadata carry `created_by: durable-assistants`, the id of the workflow that
created them (`workflow_id`: a conversation's runs are `thread-{key}/run-{n}`, so a
conversation owns what its runs made) and, when the HTTP gateway started that workflow, its
`tenant`. Responses also carry the `thread` they belong to: the first response of a chain
this system began carries `self`, every later one the id of that first response, so cleanup
can tell whether any response of a chain is still held. Files carry no metadata: their
uploaded name does (`notes.md` becomes `notes.da-3f2a9c1b7d4e5f60.md`, with 16 hex digits of
the content's sha256), which also lets a retried or repeated upload find the file instead of
sending it again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePath

from temporalio import activity

OWNER_KEY = "created_by"
OWNER = "durable-assistants"
WORKFLOW_KEY = "workflow_id"
TENANT_KEY = "tenant"
THREAD_KEY = "thread"
THREAD_START = "self"
_OWNED_FILE = re.compile(r"\.da-([0-9a-f]{16})(\.[^.]*)?$")


def owned_metadata(
    metadata: Mapping[str, str] | None = None, tenant: str | None = None
) -> dict[str, str]:
    """`metadata` plus the tags that say this system (which workflow, for which tenant)
    created it."""
    tags = {OWNER_KEY: OWNER}
    if activity.in_activity() and activity.info().workflow_id:
        tags[WORKFLOW_KEY] = activity.info().workflow_id or ""
    if tenant is not None:
        tags[TENANT_KEY] = tenant
    return {**(metadata or {}), **tags}


def is_owned(metadata: Mapping[str, object] | None) -> bool:
    return (metadata or {}).get(OWNER_KEY) == OWNER


def tenant_owns(tenant: str, metadata: Mapping[str, object] | None) -> bool:
    """This system made the object for `tenant` (through the HTTP gateway)."""
    return is_owned(metadata) and (metadata or {}).get(TENANT_KEY) == tenant


def made_by_caller(metadata: Mapping[str, object] | None) -> bool:
    """The workflow calling this activity (or one of its runs, for a conversation) made the
    object: what it may delete as its own."""
    caller = activity.info().workflow_id or ""
    made_by = str((metadata or {}).get(WORKFLOW_KEY) or "")
    mine = made_by == caller or made_by.startswith(f"{caller}/run-")
    return is_owned(metadata) and bool(caller) and mine


def thread_of(response_id: str, metadata: Mapping[str, object] | None) -> str | None:
    """The first response of the chain a response of ours belongs to; None for a response
    this system did not make, or made before it tagged chains."""
    tag = (metadata or {}).get(THREAD_KEY)
    if not is_owned(metadata) or not isinstance(tag, str) or not tag:
        return None
    return response_id if tag == THREAD_START else tag


def owned_file_name(name: str, digest: str) -> str:
    """The name to upload `name` under, for content whose sha256 starts with `digest`."""
    path = PurePath(name)
    return f"{path.stem}.da-{digest}{path.suffix}"


def owned_file_digest(filename: str) -> str | None:
    """The content digest in the name of a file this system uploaded; None for others."""
    match = _OWNED_FILE.search(filename)
    return match[1] if match else None
