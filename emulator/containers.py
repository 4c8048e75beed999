"""Containers (the code interpreter's sandboxes on the Responses API) and their files: create,
list, retrieve, delete, and download a file's content."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from emulator import files
from emulator.errors import APIError, invalid
from emulator.http import deleted, emulator, json_body, list_page, ok
from emulator.store import JSON, Collection, Entry, Store, new_id

EXPIRES_AFTER_MINUTES = 20
"""OpenAI's default: a container expires 20 minutes after it was last active"""
MOUNT = "/mnt/data"


def containers(store: Store) -> Collection:
    return store.collection("containers", "container")


def container_files(store: Store) -> Collection:
    """Files of containers; each entry's private part is the content's bytes."""
    return store.collection("container_files", "container file")


def find_container(store: Store, container_id: str, param: str | None = None) -> Entry:
    entry = containers(store).find(container_id)
    if entry is None:
        raise APIError(404, f"Container with id '{container_id}' not found.", param=param)
    return entry


def create_container(
    store: Store,
    name: str,
    file_ids: list[str],
    *,
    memory_limit: str | None = None,
    expires_minutes: int = EXPIRES_AFTER_MINUTES,
    param: str = "file_ids",
) -> JSON:
    """A running container holding copies of the uploaded files `file_ids`."""
    for index, file_id in enumerate(file_ids):
        if files.find(store, file_id) is None:
            raise invalid(f"No such File object: {file_id}", param=f"{param}[{index}]")
    now = store.now()
    container: JSON = {
        "id": new_id("cntr_"),
        "object": "container",
        "name": name,
        "created_at": now,
        "status": "running",
        "last_active_at": now,
        "expires_after": {"anchor": "last_active_at", "minutes": expires_minutes},
        "memory_limit": memory_limit or "1g",
    }
    containers(store).add(container["id"], container)
    store.counters.count("containers_created")
    for file_id in file_ids:
        upload = files.find(store, file_id) or {}
        data = files.content(store, file_id)
        add_file(store, container["id"], f"{MOUNT}/{upload['filename']}", data, "user")
    return container


def add_file(store: Store, container_id: str, path: str, data: bytes, source: str) -> JSON:
    """A file in the container: `source` is `user` (given to it) or `assistant` (generated)."""
    created: JSON = {
        "id": new_id("cfile_"),
        "object": "container.file",
        "created_at": store.now(),
        "bytes": len(data),
        "container_id": container_id,
        "path": path,
        "source": source,
    }
    container_files(store).add(created["id"], created, data, parent=container_id)
    return created


def files_of(store: Store, container_id: str) -> list[Entry]:
    return container_files(store).of(container_id)


def touch(store: Store, container_id: str) -> None:
    containers(store).get(container_id).public["last_active_at"] = store.now()


async def create(request: Request) -> Response:
    body = await json_body(request, "CreateContainer")
    store = emulator(request).store
    expires = (body.get("expires_after") or {}).get("minutes", EXPIRES_AFTER_MINUTES)
    container = create_container(
        store,
        body["name"],
        body.get("file_ids") or [],
        memory_limit=body.get("memory_limit"),
        expires_minutes=expires,
    )
    return ok(container)


async def list_containers(request: Request) -> Response:
    store = emulator(request).store
    name = request.query_params.get("name")
    found = [
        entry.public
        for entry in containers(store).entries.values()
        if name is None or entry.public["name"] == name
    ]
    return ok(list_page(request, found))


async def retrieve(request: Request) -> Response:
    store = emulator(request).store
    return ok(find_container(store, request.path_params["container_id"]).public)


async def delete(request: Request) -> Response:
    store = emulator(request).store
    container_id = request.path_params["container_id"]
    find_container(store, container_id)
    for entry in files_of(store, container_id):
        container_files(store).remove(entry.public["id"], parent=container_id)
    containers(store).remove(container_id)
    return deleted(container_id, "container")


async def create_file(request: Request) -> Response:
    """A file given to the container: an uploaded file's id (JSON) or the bytes (multipart)."""
    store = emulator(request).store
    container_id = request.path_params["container_id"]
    find_container(store, container_id)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form() as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise invalid("Missing required parameter: 'file'.", param="file")
            name, data = upload.filename or "file", await upload.read()
    else:
        body = await json_body(request, "CreateContainerFile")
        if not body.get("file_id"):
            raise invalid("Missing required parameter: 'file_id'.", param="file_id")
        stored = files.find(store, body["file_id"])
        if stored is None:
            raise invalid(f"No such File object: {body['file_id']}", param="file_id")
        name, data = stored["filename"], files.content(store, body["file_id"])
    return ok(add_file(store, container_id, f"{MOUNT}/{name}", data, "user"))


async def list_files(request: Request) -> Response:
    store = emulator(request).store
    container_id = request.path_params["container_id"]
    find_container(store, container_id)
    return ok(list_page(request, [entry.public for entry in files_of(store, container_id)]))


def _file(store: Store, request: Request) -> Entry:
    container_id = request.path_params["container_id"]
    file_id = request.path_params["file_id"]
    find_container(store, container_id)
    entry = container_files(store).find(file_id)
    if entry is None or entry.public["container_id"] != container_id:
        raise APIError(404, f"Container file with id '{file_id}' not found.")
    return entry


async def retrieve_file(request: Request) -> Response:
    return ok(_file(emulator(request).store, request).public)


async def delete_file(request: Request) -> Response:
    store = emulator(request).store
    entry = _file(store, request)
    container_files(store).remove(entry.public["id"], parent=entry.public["container_id"])
    return deleted(entry.public["id"], "container.file")


async def download(request: Request) -> Response:
    """The file's bytes; counted per file in `container_file_downloads` (besides the request
    counter's `GET /v1/containers/{container_id}/files/{file_id}/content 200`)."""
    store = emulator(request).store
    entry = _file(store, request)
    store.counters.count("container_file_downloads", entry.public["id"])
    data: bytes = entry.private
    return Response(data, media_type="application/octet-stream")


def routes() -> list[BaseRoute]:
    container = "/containers/{container_id}"
    file = f"{container}/files/{{file_id}}"
    return [
        Route("/containers", create, methods=["POST"]),
        Route("/containers", list_containers, methods=["GET"]),
        Route(container, retrieve, methods=["GET"]),
        Route(container, delete, methods=["DELETE"]),
        Route(f"{container}/files", create_file, methods=["POST"]),
        Route(f"{container}/files", list_files, methods=["GET"]),
        Route(file, retrieve_file, methods=["GET"]),
        Route(file, delete_file, methods=["DELETE"]),
        Route(f"{file}/content", download, methods=["GET"]),
    ]
