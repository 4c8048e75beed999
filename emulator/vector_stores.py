"""Vector stores, their files and file batches, and search over them.

Indexing is asynchronous and lazy, like runs: a file added to a store is `in_progress` until
`timings.indexing` seconds later (or `[[emulator index=S]]` in the file), and whoever next reads
the store, the file or its batch finds it `completed`, or `failed` with `last_error`:
  * an extension file_search does not support: `unsupported_file`;
  * an empty file: `invalid_file`;
  * `[[emulator index=fail]]`: `server_error`, always;
  * `[[emulator index_failures=N]]`: `server_error` on the file's first N attempts, where an
    attempt is each time the file id is added to any store (`index_fail=CODE*N` in general).
Adding a file that is already in the store starts a new attempt. Stores made for threads and
inline `vector_stores` are indexed at once: the API holds a run back until they are ready.
Files deleted through /files leave every store the next time it is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from emulator import directives, files
from emulator import search as ranking
from emulator.errors import APIError, invalid, not_found
from emulator.http import deleted, emulator, json_body, list_page, ok
from emulator.model import SearchHit
from emulator.store import JSON, Collection, Entry, Store, new_id

SUPPORTED_EXTENSIONS = frozenset(
    {
        ".c",
        ".cpp",
        ".cs",
        ".css",
        ".doc",
        ".docx",
        ".go",
        ".html",
        ".java",
        ".js",
        ".json",
        ".md",
        ".pdf",
        ".php",
        ".pptx",
        ".py",
        ".rb",
        ".sh",
        ".tex",
        ".ts",
        ".txt",
    }
)
SUPPORTED_FILES_URL = (
    "https://platform.openai.com/docs/assistants/tools/file-search#supported-files"
)
FILE_STATUSES = ("in_progress", "completed", "failed", "cancelled")
LAST_ERROR_CODES = ("server_error", "unsupported_file", "invalid_file")
THREAD_STORE_EXPIRY: JSON = {"anchor": "last_active_at", "days": 7}
DAY_SECONDS = 86_400
DEFAULT_SEARCH_RESULTS = 10


@dataclass
class Indexing:
    """A vector store file's private state: when its indexing attempt ends, and how."""

    ready_at: float
    error: JSON | None
    batch_id: str | None
    chunks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Match:
    file: JSON
    filename: str
    text: str
    score: float


def vector_stores(store: Store) -> Collection:
    return store.collection("vector_stores", "vector store")


def _files(store: Store) -> Collection:
    """Vector store files, keyed `vs_id/file_id` and grouped by store."""
    return store.collection("vector_store_files", "vector store file")


def _batches(store: Store) -> Collection:
    return store.collection("vector_store_file_batches", "file batch")


def _attempts(store: Store) -> Collection:
    """How many times each file id was added to a store (the entry's private int)."""
    return store.collection("file_index_attempts", "file")


# --- the functions the run engine and the thread routes use ----------------------------------


def search(
    store: Store, vector_store_ids: list[str], query: str, max_results: int = 20
) -> list[SearchHit]:
    """Best-matching chunks of the completed files of these vector stores, best first.
    Stores that expired or were deleted are skipped."""
    live = []
    for vs_id in vector_store_ids:
        entry = vector_stores(store).find(vs_id)
        if entry is not None and _advance(store, entry)["status"] != "expired":
            _touch(store, entry.public)
            live.append(vs_id)
    matches = _ranked(store, live, query, None)
    return [SearchHit(m.file["id"], m.filename, m.score, m.text) for m in matches[:max_results]]


def create_for_thread(store: Store, file_ids: list[str]) -> str:
    """A vector store for files attached to a thread's messages; returns its id."""
    entry = _new_store(store, {"expires_after": THREAD_STORE_EXPIRY, "file_ids": file_ids})
    _add_files(store, entry.public["id"], [{"file_id": file_id} for file_id in file_ids], 0.0)
    return str(entry.public["id"])


# --- vector stores ----------------------------------------------------------------------------


def _new_store(store: Store, body: JSON) -> Entry:
    _check_files(store, body.get("file_ids") or [])
    _chunking(body.get("chunking_strategy"))
    now = store.now()
    created: JSON = {
        "id": new_id("vs_"),
        "object": "vector_store",
        "created_at": now,
        "name": body.get("name") or "",
        "usage_bytes": 0,
        "file_counts": _counts([]),
        "status": "completed",
        "last_active_at": now,
        "metadata": body.get("metadata") or {},
        "expires_at": None,
    }
    if body.get("expires_after") is not None:
        created["expires_after"] = body["expires_after"]
    _touch(store, created)
    store.counters.count("vector_stores_created")
    return vector_stores(store).add(created["id"], created)


async def create(request: Request) -> Response:
    body = await json_body(request, "createVectorStore")
    emu = emulator(request)
    entry = _new_store(emu.store, body)
    requests = [
        {"file_id": file_id, "chunking_strategy": body.get("chunking_strategy")}
        for file_id in body.get("file_ids") or []
    ]
    _add_files(emu.store, entry.public["id"], requests, emu.config.timings.indexing)
    return ok(_advance(emu.store, entry))


def _store_entry(store: Store, vs_id: str) -> Entry:
    entry = vector_stores(store).get(vs_id)
    _advance(store, entry)
    return entry


async def retrieve(request: Request) -> Response:
    store = emulator(request).store
    return ok(_store_entry(store, request.path_params["vector_store_id"]).public)


async def modify(request: Request) -> Response:
    body = await json_body(request, "modifyVectorStore")
    store = emulator(request).store
    found = _store_entry(store, request.path_params["vector_store_id"]).public
    for key in ("name", "metadata", "expires_after"):
        if body.get(key) is not None:
            found[key] = body[key]
    _touch(store, found)
    return ok(found)


async def list_stores(request: Request) -> Response:
    store = emulator(request).store
    entries = list(vector_stores(store).entries.values())
    return ok(list_page(request, [_advance(store, entry) for entry in entries]))


async def delete(request: Request) -> Response:
    store = emulator(request).store
    vs_id = request.path_params["vector_store_id"]
    vector_stores(store).get(vs_id)
    for entry in _files(store).of(vs_id):
        _files(store).remove(_key(vs_id, entry.public["id"]), parent=vs_id)
    for entry in _batches(store).of(vs_id):
        _batches(store).remove(entry.public["id"], parent=vs_id)
    vector_stores(store).remove(vs_id)
    return deleted(vs_id, "vector_store")


async def search_store(request: Request) -> Response:
    body = await json_body(request, "searchVectorStore")
    store = emulator(request).store
    found = _store_entry(store, request.path_params["vector_store_id"]).public
    _touch(store, found)
    queries = [body["query"]] if isinstance(body["query"], str) else body["query"]
    threshold = (body.get("ranking_options") or {}).get("score_threshold", 0.0)
    matches = _ranked(store, [found["id"]], " ".join(queries), body.get("filters"))
    kept = [m for m in matches if m.score >= threshold]
    return ok(
        {
            "object": "vector_store.search_results.page",
            "search_query": queries,
            "data": [
                _result(m) for m in kept[: body.get("max_num_results", DEFAULT_SEARCH_RESULTS)]
            ],
            "has_more": False,
            "next_page": None,
        }
    )


def _result(match: _Match) -> JSON:
    return {
        "file_id": match.file["id"],
        "filename": match.filename,
        "score": match.score,
        "attributes": match.file["attributes"],
        "content": [{"type": "text", "text": match.text}],
    }


def _ranked(store: Store, vs_ids: list[str], query: str, condition: JSON | None) -> list[_Match]:
    """Chunks of completed files passing `condition`, best first; chunks that share no word
    with the query are left out. A file in several of the stores counts once."""
    candidates: dict[str, Entry] = {}
    for vs_id in vs_ids:
        for entry in _files(store).of(vs_id):
            passes = condition is None or ranking.matches(condition, entry.public["attributes"])
            if entry.public["status"] == "completed" and passes:
                candidates.setdefault(entry.public["id"], entry)
    chunks = [(entry, text) for entry in candidates.values() for text in entry.private.chunks]
    scores = ranking.bm25(query, [text for _, text in chunks])
    matches = [
        _Match(entry.public, _filename(store, entry.public["id"]), text, score)
        for (entry, text), score in zip(chunks, scores, strict=True)
        if score > 0
    ]
    return sorted(matches, key=lambda match: -match.score)


def _filename(store: Store, file_id: str) -> str:
    found = files.find(store, file_id)
    return "" if found is None else str(found["filename"])


def _touch(store: Store, vector_store: JSON) -> None:
    """The store was used: move `last_active_at`, and `expires_at` with it (an expired store
    stays expired)."""
    if vector_store["status"] == "expired":
        return
    vector_store["last_active_at"] = store.now()
    policy = vector_store.get("expires_after")
    vector_store["expires_at"] = (
        None if policy is None else vector_store["last_active_at"] + policy["days"] * DAY_SECONDS
    )


# --- indexing ---------------------------------------------------------------------------------


def _advance(store: Store, entry: Entry) -> JSON:
    """Bring a vector store up to date: forget files deleted from /files, end the indexing
    attempts that are due, recount. Returns the store's public object."""
    found = entry.public
    now = store.clock()
    for file_entry in _files(store).of(found["id"]):
        file_id = file_entry.public["id"]
        if files.find(store, file_id) is None:
            _files(store).remove(_key(found["id"], file_id), parent=found["id"])
        elif file_entry.public["status"] == "in_progress" and file_entry.private.ready_at <= now:
            _finish_indexing(store, file_entry)
    members = _files(store).of(found["id"])
    found["file_counts"] = _counts(members)
    found["usage_bytes"] = sum(member.public["usage_bytes"] for member in members)
    expired = found["status"] == "expired" or (
        found["expires_at"] is not None and found["expires_at"] <= now
    )
    in_progress = found["file_counts"]["in_progress"] > 0
    found["status"] = "expired" if expired else "in_progress" if in_progress else "completed"
    return found


def _finish_indexing(store: Store, entry: Entry) -> None:
    job: Indexing = entry.private
    if job.error is not None:
        entry.public.update(status="failed", last_error=job.error)
        return
    text = _text(files.content(store, entry.public["id"]))
    static = entry.public["chunking_strategy"]["static"]
    job.chunks = ranking.chunk(
        text, static["max_chunk_size_tokens"], static["chunk_overlap_tokens"]
    )
    entry.public.update(status="completed", usage_bytes=len(text.encode()))


def _counts(entries: list[Entry]) -> JSON:
    statuses = [entry.public["status"] for entry in entries]
    counts: JSON = {status: statuses.count(status) for status in FILE_STATUSES}
    counts["total"] = len(statuses)
    return counts


def _key(vs_id: str, file_id: str) -> str:
    return f"{vs_id}/{file_id}"


def _check_files(store: Store, file_ids: list[str]) -> None:
    for file_id in file_ids:
        if files.find(store, file_id) is None:
            raise not_found("file", file_id)


def _add_files(
    store: Store, vs_id: str, requests: list[JSON], delay: float, batch_id: str | None = None
) -> None:
    """Start indexing each `CreateVectorStoreFileRequest`; all or none, like the API."""
    _check_files(store, [request["file_id"] for request in requests])
    for request in requests:
        _chunking(request.get("chunking_strategy"))
    for request in requests:
        _add_file(store, vs_id, request, delay, batch_id)
    _touch(store, vector_stores(store).get(vs_id).public)


def _add_file(store: Store, vs_id: str, request: JSON, delay: float, batch_id: str | None) -> Entry:
    file_id = request["file_id"]
    data = files.content(store, file_id)
    options = directives.directives(_text_of(data))
    job = Indexing(
        store.clock() + _index_seconds(options, delay),
        _planned_error(store, file_id, data, options),
        batch_id,
    )
    created: JSON = {
        "id": file_id,
        "object": "vector_store.file",
        "usage_bytes": 0,
        "created_at": store.now(),
        "vector_store_id": vs_id,
        "status": "in_progress",
        "last_error": None,
        "chunking_strategy": _chunking(request.get("chunking_strategy")),
        "attributes": request.get("attributes") or {},
    }
    key = _key(vs_id, file_id)
    _files(store).remove(key, parent=vs_id)
    store.counters.count("vector_store_files_added")
    return _files(store).add(key, created, job, parent=vs_id)


def _index_seconds(options: dict[str, str], default: float) -> float:
    if options.get("index") == "fail":
        return default
    return directives.seconds(options, "index", default)


def _planned_error(store: Store, file_id: str, data: bytes, options: dict[str, str]) -> JSON | None:
    """The `last_error` this attempt at indexing the file will end with, if any."""
    attempt = _count_attempt(store, file_id)
    filename = _filename(store, file_id)
    extension = PurePosixPath(filename).suffix.lower()
    if extension not in SUPPORTED_EXTENSIONS:
        message = (
            f"Files with extensions [{extension or 'none'}] are not supported for retrieval. "
            f"See {SUPPORTED_FILES_URL}"
        )
        return {"code": "unsupported_file", "message": message}
    if not data.strip():
        return {"code": "invalid_file", "message": f"The file {filename} is empty."}
    code = _scripted_failure(options, attempt)
    if code is None:
        return None
    return {"code": code, "message": "An internal error occurred while processing the file."}


def _scripted_failure(options: dict[str, str], attempt: int) -> str | None:
    """`index=fail`, `index_failures=N` or `index_fail=CODE[*N]`: the code attempt number
    `attempt` fails with, if it does."""
    if options.get("index") == "fail":
        options = {**options, "index_fail": "server_error"}
    elif "index_failures" in options:
        options = {**options, "index_fail": f"server_error*{options['index_failures']}"}
    failure = directives.failure(options, "index_fail")
    if failure is None:
        return None
    code, times = failure
    if code not in LAST_ERROR_CODES:
        raise invalid(
            f"Invalid emulator directive index_fail={code}: expected one of "
            f"{', '.join(LAST_ERROR_CODES)}."
        )
    return code if times is None or attempt <= times else None


def _count_attempt(store: Store, file_id: str) -> int:
    entry = _attempts(store).find(file_id) or _attempts(store).add(file_id, {"id": file_id}, 0)
    entry.private += 1
    attempt: int = entry.private
    return attempt


def _chunking(requested: JSON | None) -> JSON:
    """The chunking strategy a file is indexed with, as the API reports it; `auto` is static
    800/400. Raises the API's 400 for an overlap above half the chunk size."""
    if requested is None or requested["type"] == "auto":
        static = {
            "max_chunk_size_tokens": ranking.AUTO_MAX_TOKENS,
            "chunk_overlap_tokens": ranking.AUTO_OVERLAP_TOKENS,
        }
        return {"type": "static", "static": static}
    static = requested["static"]
    if not 0 <= static["chunk_overlap_tokens"] <= static["max_chunk_size_tokens"] // 2:
        raise invalid(
            "Invalid 'chunking_strategy.static.chunk_overlap_tokens': must be non-negative and "
            "not exceed half of max_chunk_size_tokens.",
            param="chunking_strategy.static.chunk_overlap_tokens",
        )
    return {"type": "static", "static": dict(static)}


def _text_of(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _text(data: bytes) -> str:
    """What gets indexed: the file's text without its directives."""
    return directives.strip(_text_of(data))


# --- vector store files -----------------------------------------------------------------------


def _file_entry(store: Store, vs_id: str, file_id: str) -> Entry:
    _store_entry(store, vs_id)
    entry = _files(store).find(_key(vs_id, file_id))
    if entry is None:
        raise APIError(404, f"No file found with id '{file_id}' in vector store '{vs_id}'.")
    return entry


def _poll_headers(request: Request) -> dict[str, str]:
    poll_after = emulator(request).config.poll_after_ms
    return {} if poll_after is None else {"openai-poll-after-ms": str(poll_after)}


async def create_file(request: Request) -> Response:
    body = await json_body(request, "createVectorStoreFile")
    emu = emulator(request)
    vs_id = request.path_params["vector_store_id"]
    _store_entry(emu.store, vs_id)
    _add_files(emu.store, vs_id, [body], emu.config.timings.indexing)
    return ok(_file_entry(emu.store, vs_id, body["file_id"]).public)


async def retrieve_file(request: Request) -> Response:
    params = request.path_params
    entry = _file_entry(emulator(request).store, params["vector_store_id"], params["file_id"])
    return ok(entry.public, headers=_poll_headers(request))


async def update_file(request: Request) -> Response:
    body = await json_body(request, "updateVectorStoreFileAttributes")
    params = request.path_params
    entry = _file_entry(emulator(request).store, params["vector_store_id"], params["file_id"])
    entry.public["attributes"] = body["attributes"] or {}
    return ok(entry.public)


async def delete_file(request: Request) -> Response:
    store = emulator(request).store
    vs_id, file_id = request.path_params["vector_store_id"], request.path_params["file_id"]
    _file_entry(store, vs_id, file_id)
    _files(store).remove(_key(vs_id, file_id), parent=vs_id)
    _store_entry(store, vs_id)
    return deleted(file_id, "vector_store.file")


async def file_content(request: Request) -> Response:
    store = emulator(request).store
    vs_id, file_id = request.path_params["vector_store_id"], request.path_params["file_id"]
    indexed = _file_entry(store, vs_id, file_id).public["status"] == "completed"
    parts = [{"type": "text", "text": _text(files.content(store, file_id))}] if indexed else []
    return ok(
        {
            "object": "vector_store.file_content.page",
            "data": parts,
            "has_more": False,
            "next_page": None,
        }
    )


def _status_filter(request: Request) -> str | None:
    wanted = request.query_params.get("filter")
    if wanted is not None and wanted not in FILE_STATUSES:
        listed = ", ".join(f"'{status}'" for status in FILE_STATUSES)
        raise invalid(
            f"Invalid value: '{wanted}'. Supported values are: {listed}.",
            param="filter",
            code="invalid_value",
        )
    return wanted


def _listed(request: Request, entries: list[Entry]) -> Response:
    wanted = _status_filter(request)
    shown = [e.public for e in entries if wanted is None or e.public["status"] == wanted]
    return ok(list_page(request, shown))


async def list_files(request: Request) -> Response:
    store = emulator(request).store
    vs_id = request.path_params["vector_store_id"]
    _store_entry(store, vs_id)
    return _listed(request, _files(store).of(vs_id))


# --- file batches -----------------------------------------------------------------------------


def _batch_requests(body: JSON) -> list[JSON]:
    if body.get("files") is not None and body.get("file_ids") is not None:
        raise invalid("Provide either 'file_ids' or 'files', not both.", param="files")
    if body.get("files") is not None:
        return list(body["files"])
    shared: JSON = {key: body[key] for key in ("attributes", "chunking_strategy") if key in body}
    return [{"file_id": file_id, **shared} for file_id in body["file_ids"]]


def _batch_files(store: Store, batch: JSON) -> list[Entry]:
    return [
        entry
        for entry in _files(store).of(batch["vector_store_id"])
        if entry.private.batch_id == batch["id"]
    ]


def _batch_entry(store: Store, vs_id: str, batch_id: str) -> Entry:
    _store_entry(store, vs_id)
    entry = _batches(store).get(batch_id)
    if entry.public["vector_store_id"] != vs_id:
        raise not_found("file batch", batch_id)
    batch = entry.public
    batch["file_counts"] = _counts(_batch_files(store, batch))
    if batch["status"] != "cancelled":
        batch["status"] = "in_progress" if batch["file_counts"]["in_progress"] else "completed"
    return entry


async def create_batch(request: Request) -> Response:
    body = await json_body(request, "createVectorStoreFileBatch")
    emu = emulator(request)
    vs_id = request.path_params["vector_store_id"]
    _store_entry(emu.store, vs_id)
    batch: JSON = {
        "id": new_id("vsfb_"),
        "object": "vector_store.files_batch",
        "created_at": emu.store.now(),
        "vector_store_id": vs_id,
        "status": "in_progress",
        "file_counts": _counts([]),
    }
    requests = _batch_requests(body)
    _add_files(emu.store, vs_id, requests, emu.config.timings.indexing, batch["id"])
    _batches(emu.store).add(batch["id"], batch, parent=vs_id)
    return ok(_batch_entry(emu.store, vs_id, batch["id"]).public)


async def retrieve_batch(request: Request) -> Response:
    params = request.path_params
    entry = _batch_entry(emulator(request).store, params["vector_store_id"], params["batch_id"])
    return ok(entry.public, headers=_poll_headers(request))


async def cancel_batch(request: Request) -> Response:
    store = emulator(request).store
    params = request.path_params
    batch = _batch_entry(store, params["vector_store_id"], params["batch_id"]).public
    if batch["status"] != "in_progress":
        raise invalid(f"Cannot cancel a vector store file batch with status '{batch['status']}'.")
    for entry in _batch_files(store, batch):
        if entry.public["status"] == "in_progress":
            entry.public["status"] = "cancelled"
    batch["status"] = "cancelled"
    return ok(_batch_entry(store, params["vector_store_id"], params["batch_id"]).public)


async def list_batch_files(request: Request) -> Response:
    store = emulator(request).store
    params = request.path_params
    batch = _batch_entry(store, params["vector_store_id"], params["batch_id"]).public
    return _listed(request, _batch_files(store, batch))


def routes() -> list[BaseRoute]:
    store_path = "/vector_stores/{vector_store_id}"
    file_path = store_path + "/files/{file_id}"
    batch_path = store_path + "/file_batches/{batch_id}"
    return [
        Route("/vector_stores", create, methods=["POST"]),
        Route("/vector_stores", list_stores, methods=["GET"]),
        Route(store_path, retrieve, methods=["GET"]),
        Route(store_path, modify, methods=["POST"]),
        Route(store_path, delete, methods=["DELETE"]),
        Route(store_path + "/search", search_store, methods=["POST"]),
        Route(store_path + "/files", create_file, methods=["POST"]),
        Route(store_path + "/files", list_files, methods=["GET"]),
        Route(file_path, retrieve_file, methods=["GET"]),
        Route(file_path, update_file, methods=["POST"]),
        Route(file_path, delete_file, methods=["DELETE"]),
        Route(file_path + "/content", file_content, methods=["GET"]),
        Route(store_path + "/file_batches", create_batch, methods=["POST"]),
        Route(batch_path, retrieve_batch, methods=["GET"]),
        Route(batch_path + "/cancel", cancel_batch, methods=["POST"]),
        Route(batch_path + "/files", list_batch_files, methods=["GET"]),
    ]
