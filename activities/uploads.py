"""Uploading files once: an upload is named by its content (see `activities.ownership`), so
the same content is found instead of being sent again, from a worker or from a caller."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from openai import AsyncOpenAI, Omit, omit

from activities.ownership import owned_file_digest, owned_file_name

PURPOSE: Final = "assistants"
LIST_PAGE: Final = 1000
"""Files listed per request: one page in memory at a time (the API's default, 10,000, is about
28 MB of file objects in a worker, per upload activity in flight)."""


class Uploads:
    """The files this system uploaded, by content digest; new content uploaded under its name."""

    def __init__(self, client: AsyncOpenAI) -> None:
        self.client = client

    async def existing(self, digests: set[str]) -> dict[str, str]:
        """Content digest -> file id, of the `digests` this system has uploaded content of.
        Every upload activity lists the uploads, so the pages are read as plain JSON
        (building the SDK's file objects was most of a 10,000-file ingest's worker CPU) and
        only the digests asked for are kept, until all are found."""
        found: dict[str, str] = {}
        after: str | Omit = omit
        while True:
            listed = await self.client.files.with_raw_response.list(
                purpose=PURPOSE, limit=LIST_PAGE, after=after
            )
            page = json.loads(listed.content)
            for file in page["data"]:
                digest = owned_file_digest(file["filename"])
                if digest in digests:
                    found.setdefault(digest, file["id"])
            if len(found) == len(digests) or not page.get("has_more") or not page["data"]:
                return found
            after = page["data"][-1]["id"]

    async def upload(self, name: str, content: Path | bytes, digest: str) -> str:
        """Upload `content` (streamed from disk when a path) as `name`; its file id."""
        upload_as = owned_file_name(name, digest)
        if isinstance(content, bytes):
            created = await self.client.files.create(file=(upload_as, content), purpose=PURPOSE)
            return created.id
        with content.open("rb") as stream:
            created = await self.client.files.create(file=(upload_as, stream), purpose=PURPOSE)
        return created.id
