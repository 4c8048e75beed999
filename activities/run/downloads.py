"""Downloading the files a run's model generated, each once.

A file is written beside its final name and renamed into place when whole, so a worker
killed mid-download leaves no half file under the final name, and a retry (or a second run
of the same step) that finds the final name there keeps it instead of fetching it again, and
removes the half files earlier attempts left beside it.
"""

from __future__ import annotations

import glob
import os
import re
import socket
from pathlib import Path

from openai import AsyncOpenAI
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeats import heartbeating
from activities.openai_errors import api_errors
from workflows.run.outcome import GeneratedFile
from workflows.run.steps import DOWNLOAD_FILE, DownloadFile

UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
CHUNK_BYTES = 1 << 20


def local_name(file: GeneratedFile) -> str:
    """`<file id>-<name>`: unique per file, the name made safe for any file system."""
    name = UNSAFE.sub("_", Path(file.name).name).strip("._") or "file"
    return f"{file.file_id}-{name}"[:255]


class GeneratedFiles:
    """The `run.download_file` activity: the Files API's content, or a container file's."""

    def __init__(self, client: AsyncOpenAI) -> None:
        self.client = client

    @activity.defn(name=DOWNLOAD_FILE.name)
    async def download_file(self, request: DownloadFile) -> str:
        directory = Path(request.directory)
        if not directory.is_dir():  # another worker may have it: the step is retried
            raise ApplicationError(
                f"download_to: {directory} is not a directory on {socket.gethostname()}",
                type="InvalidDownloadDirectory",
            )
        final = directory / local_name(request.file)
        if not final.exists():
            partial = final.with_name(f".{final.name}.{os.getpid()}.partial")
            try:
                async with heartbeating():  # a stop reaches it while the API is slow to answer
                    await self._fetch(request.file, partial)
                partial.replace(final)
            finally:
                partial.unlink(missing_ok=True)
        _remove_partials(final)
        return str(final)

    async def _fetch(self, file: GeneratedFile, into: Path) -> None:
        with api_errors(f"downloading {file.file_id} ({file.name})"):
            if file.container_id is not None:
                content = self.client.containers.files.content.with_streaming_response.retrieve(
                    file.file_id, container_id=file.container_id
                )
            else:
                content = self.client.files.with_streaming_response.content(file.file_id)
            async with content as response:
                with into.open("wb") as out:
                    async for chunk in response.iter_bytes(CHUNK_BYTES):
                        out.write(chunk)


def _remove_partials(final: Path) -> None:
    """Half files of `final` left by attempts that cannot clean up after themselves (a killed
    worker; one whose attempt timed out while it still wrote): `final` is whole."""
    for stale in final.parent.glob(f".{glob.escape(final.name)}.*.partial"):
        stale.unlink(missing_ok=True)
