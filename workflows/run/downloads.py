"""Downloading what the model generated, once the run has ended: each file by an activity of
its own (retried; a file already downloaded is kept), in parallel. A file that cannot be
downloaded says why in its `download_error`; it is still in the API and the run's status
stands."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from temporalio.exceptions import ActivityError

from workflows.common import Step
from workflows.run.failures import failure_text
from workflows.run.outcome import GeneratedFile
from workflows.run.steps import DOWNLOAD_FILE, DownloadFile

Call = Callable[[Step[DownloadFile, str], DownloadFile, str], Awaitable[str]]


async def download_files(files: list[GeneratedFile], directory: str, call: Call) -> None:
    """Download `files`, each entry replaced by its downloaded self as soon as it is done (so
    a run stopped mid-way still reports the files it got)."""

    async def download(index: int, file: GeneratedFile) -> None:
        step = DownloadFile(file=file, directory=directory)
        try:
            path = await call(DOWNLOAD_FILE, step, f"download {file.name}"[:200])
        except ActivityError as err:
            files[index] = file.model_copy(update={"download_error": failure_text(err)})
        else:
            files[index] = file.model_copy(update={"path": path})

    await asyncio.gather(*(download(index, file) for index, file in enumerate(files)))
