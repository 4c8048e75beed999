"""Files: upload (multipart), list, retrieve, delete, download."""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from emulator.errors import APIError
from emulator.http import emulator, list_page, ok
from emulator.spec import validate_request
from emulator.store import JSON, Collection, Entry, Store, new_id, paginate

MAX_LIST_LIMIT = 10_000  # the spec's bound, and its default


def files(store: Store) -> Collection:
    """Uploaded files; each entry's private part is the content's bytes."""
    return store.collection("files", "File")


def find(store: Store, file_id: str) -> JSON | None:
    entry = files(store).find(file_id)
    return None if entry is None else entry.public


def content(store: Store, file_id: str) -> bytes:
    data: bytes = _entry(store, file_id).private
    return data


def _entry(store: Store, file_id: str) -> Entry:
    entry = files(store).find(file_id)
    if entry is None:
        raise APIError(404, f"No such File object: {file_id}", param="id")
    return entry


async def create(request: Request) -> Response:
    async with request.form() as form:
        upload = form.get("file")
        fields = _nested({key: value for key, value in form.items() if isinstance(value, str)})
        fields.pop("file", None)
        if isinstance(upload, UploadFile):
            fields["file"] = upload.filename or "file"
        validate_request("createFile", fields)
        assert isinstance(upload, UploadFile)
        data = await upload.read()
    store = emulator(request).store
    now = store.now()
    created: JSON = {
        "id": new_id("file-"),
        "object": "file",
        "bytes": len(data),
        "created_at": now,
        "filename": fields["file"],
        "purpose": fields["purpose"],
        "status": "processed",
    }
    if "expires_after" in fields:
        created["expires_at"] = now + fields["expires_after"]["seconds"]
    files(store).add(created["id"], created, data)
    store.counters.count("files_created")
    store.counters.count("file_uploads_by_sha256", hashlib.sha256(data).hexdigest())
    return ok(created)


def _nested(fields: dict[str, str]) -> JSON:
    """Multipart fields as the JSON body they stand for: `expires_after[seconds]=3600` is
    `{"expires_after": {"seconds": 3600}}` (digit strings inside objects become integers)."""
    body: JSON = {}
    for key, value in fields.items():
        name, _, inner = key.partition("[")
        if not inner:
            body[name] = value
            continue
        parsed: Any = int(value) if value.isdigit() else value
        body.setdefault(name, {})[inner.rstrip("]")] = parsed
    return body


async def list_files(request: Request) -> Response:
    store = emulator(request).store
    purpose = request.query_params.get("purpose")
    found = [
        e.public
        for e in files(store).entries.values()
        if purpose is None or e.public["purpose"] == purpose
    ]
    query = request.query_params
    if "limit" in query:
        return ok(list_page(request, found, max_limit=MAX_LIST_LIMIT))
    return ok(
        paginate(
            found,
            limit=MAX_LIST_LIMIT,
            order=query.get("order", "desc"),
            after=query.get("after"),
            max_limit=MAX_LIST_LIMIT,
        )
    )


async def retrieve(request: Request) -> Response:
    return ok(_entry(emulator(request).store, request.path_params["file_id"]).public)


async def delete(request: Request) -> Response:
    store = emulator(request).store
    file_id = request.path_params["file_id"]
    _entry(store, file_id)
    files(store).remove(file_id)
    return ok({"id": file_id, "object": "file", "deleted": True})


async def download(request: Request) -> Response:
    data = content(emulator(request).store, request.path_params["file_id"])
    return Response(data, media_type="application/octet-stream")


def routes() -> list[BaseRoute]:
    return [
        Route("/files", create, methods=["POST"]),
        Route("/files", list_files, methods=["GET"]),
        Route("/files/{file_id}", retrieve, methods=["GET"]),
        Route("/files/{file_id}", delete, methods=["DELETE"]),
        Route("/files/{file_id}/content", download, methods=["GET"]),
    ]
