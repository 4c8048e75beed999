"""Files through the official SDK; every JSON response is checked against the spec."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from emulator.server import BackgroundEmulator
from tests.conformance.conftest import API_KEY, assert_schema


def unique(text: str) -> bytes:
    """Content no other test uploads, so per-content counters start at zero."""
    return f"{text}\n{uuid.uuid4()}\n".encode()


def test_upload_retrieve_download_delete(client: OpenAI) -> None:
    data = unique("The quick brown fox.")
    created = client.files.create(file=("notes.txt", data), purpose="assistants")
    assert created.id.startswith("file-")
    assert (created.object, created.filename, created.bytes) == ("file", "notes.txt", len(data))
    assert (created.purpose, created.status) == ("assistants", "processed")

    assert client.files.retrieve(created.id).filename == "notes.txt"
    assert client.files.content(created.id).content == data

    result = client.files.delete(created.id)
    assert (result.id, result.deleted) == (created.id, True)
    with pytest.raises(openai.NotFoundError, match=f"No such File object: {created.id}"):
        client.files.retrieve(created.id)


def test_upload_from_a_path_keeps_its_name(client: OpenAI, tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_bytes(unique("# Guide"))
    created = client.files.create(file=path, purpose="user_data")
    assert (created.filename, created.bytes) == ("guide.md", path.stat().st_size)


def test_expires_after_sets_expires_at(client: OpenAI) -> None:
    created = client.files.create(
        file=("batch.jsonl", unique("{}")),
        purpose="batch",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert created.expires_at == created.created_at + 3600


def test_list_filters_by_purpose_and_pages(client: OpenAI) -> None:
    ids = [
        client.files.create(file=(f"{i}.png", unique("png")), purpose="vision").id for i in range(3)
    ]
    listed = client.files.list(purpose="vision").data
    assert {f.purpose for f in listed} == {"vision"}
    assert {f.id for f in listed} >= set(ids)

    page = client.files.list(purpose="vision", order="asc", limit=1, after=ids[0])
    assert [f.id for f in page.data] == [ids[1]]
    assert page.has_more


def test_counters_count_uploads_by_content(client: OpenAI, counters: Any) -> None:
    data = unique("counted")
    digest = hashlib.sha256(data).hexdigest()
    before = counters().get("files_created", {}).get("total", 0)
    client.files.create(file=("a.txt", data), purpose="assistants")
    client.files.create(file=("b.txt", data), purpose="assistants")
    snapshot = counters()
    assert snapshot["file_uploads_by_sha256"][digest] == 2
    assert snapshot["files_created"]["total"] == before + 2


def test_bad_purpose_is_400_naming_it(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="Supported values are") as raised:
        client.files.create(file=("a.txt", b"x"), purpose="nope")  # type: ignore[arg-type]
    assert raised.value.body["param"] == "purpose"  # type: ignore[index]


@pytest.mark.parametrize(
    ("form", "upload", "missing"),
    [({"purpose": "assistants"}, None, "file"), ({}, {"file": ("a.txt", b"x")}, "purpose")],
)
def test_missing_fields_are_400(
    emulator: BackgroundEmulator, form: dict[str, str], upload: Any, missing: str
) -> None:
    response = httpx.post(
        f"{emulator.base_url}/files",
        data=form,
        files=upload or {"other": ("x", b"x")},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert response.status_code == 400
    assert_schema("ErrorResponse", response.json())
    assert response.json()["error"]["param"] == missing


async def test_async_client_round_trip(aclient: AsyncOpenAI) -> None:
    created = await aclient.files.create(file=("async.txt", b"async bytes"), purpose="assistants")
    assert (await aclient.files.retrieve(created.id)).bytes == len(b"async bytes")
    assert (await aclient.files.content(created.id)).content == b"async bytes"
    assert created.id in [f.id async for f in aclient.files.list(purpose="assistants")]
    assert (await aclient.files.delete(created.id)).deleted
    with pytest.raises(openai.NotFoundError):
        await aclient.files.content(created.id)
