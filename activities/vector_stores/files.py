"""Local files to upload: checked before anything is sent, hashed in chunks (the hash names
the upload: see `activities.ownership`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from workflows.common import RunError
from workflows.ingest.contracts import FILE_SEARCH_EXTENSIONS, MAX_FILE_BYTES, IngestFile
from workflows.ingest.steps import CheckedFile

CHUNK_BYTES = 1024 * 1024


def check_file(file: IngestFile) -> CheckedFile:
    """Whether file_search can index the file, decided before anything is uploaded."""
    if file.file_id is not None:
        return CheckedFile()
    name = Path(file.path).name if file.path else file.filename or ""
    extension = Path(name).suffix.lower()
    if extension not in FILE_SEARCH_EXTENSIONS:
        return _refused("unsupported_file", f"{name}: file_search does not index {extension!r}")
    if file.text is not None:
        size = len(file.text.encode())
    else:
        try:
            size = Path(file.path or "").stat().st_size
            with Path(file.path or "").open("rb"):
                pass
        except OSError as err:
            return _refused("unreadable_file", f"{file.path}: {err.strerror}")
    if size == 0:
        return _refused("empty_file", f"{name} is empty")
    if size > MAX_FILE_BYTES:
        return _refused("file_too_large", f"{name} is {size} bytes; the limit is 512 MB")
    return CheckedFile(bytes=size)


def content_hash(file: IngestFile) -> tuple[str, int]:
    """sha256 of the content, read in chunks (never the whole file at once), and its size."""
    digest = hashlib.sha256()
    if file.text is not None:
        data = file.text.encode()
        digest.update(data)
        return digest.hexdigest()[:16], len(data)
    size = 0
    with Path(file.path or "").open("rb") as content:
        while chunk := content.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest()[:16], size


def _refused(code: str, message: str) -> CheckedFile:
    return CheckedFile(error=RunError(code=code, message=message))
