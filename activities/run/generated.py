"""What the model generated in OpenAI's sandbox, as the run's result reports it: the code it
ran with its logs, and the files it made, with their names, sizes and types."""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath
from typing import Any

from openai import AsyncOpenAI

from activities.openai_errors import api_errors
from workflows.run.outcome import CodeInterpreterCall, GeneratedFile, RunMessage


def files_of(messages: list[RunMessage], calls: list[CodeInterpreterCall]) -> list[GeneratedFile]:
    """The files the messages point at (images, file paths, container citations) and the
    images the code made, each once; names and sizes are filled in by `FileDetails`."""
    named: dict[str, GeneratedFile] = {}
    for message in messages:
        for annotation in message.annotations:
            if annotation.get("type") == "container_file_citation":
                file_id = annotation["file_id"]
                named[file_id] = GeneratedFile(
                    file_id=file_id,
                    name=annotation.get("filename") or "",
                    container_id=annotation.get("container_id"),
                )
        for file_id in message.file_ids:
            named.setdefault(file_id, GeneratedFile(file_id=file_id, name=""))
    for call in calls:
        for file_id in call.image_file_ids:
            named.setdefault(file_id, GeneratedFile(file_id=file_id, name=""))
    return list(named.values())


def assistants_call(tool_call: Any) -> CodeInterpreterCall:
    """A `code_interpreter` tool call of an Assistants run step."""
    interpreter = tool_call.code_interpreter
    outputs = interpreter.outputs or []
    return CodeInterpreterCall(
        id=tool_call.id,
        code=interpreter.input or "",
        logs="".join(o.logs or "" for o in outputs if o.type == "logs"),
        image_file_ids=[o.image.file_id for o in outputs if o.type == "image" and o.image],
    )


def responses_call(item: Any) -> CodeInterpreterCall:
    """A `code_interpreter_call` output item of a response."""
    outputs = item.outputs or []
    return CodeInterpreterCall(
        id=item.id,
        code=item.code or "",
        logs="".join(o.logs for o in outputs if o.type == "logs"),
        container_id=item.container_id,
    )


class FileDetails:
    """Names, sizes and types of generated files, read from the Files API or the container."""

    def __init__(self, client: AsyncOpenAI) -> None:
        self.client = client

    async def described(self, files: list[GeneratedFile]) -> list[GeneratedFile]:
        return [file if file.bytes is not None else await self._read(file) for file in files]

    async def _read(self, file: GeneratedFile) -> GeneratedFile:
        with api_errors(f"reading generated file {file.file_id}"):
            if file.container_id is not None:
                found = await self.client.containers.files.retrieve(
                    file.file_id, container_id=file.container_id
                )
                name, size = file.name or PurePosixPath(found.path).name, found.bytes
            else:
                described = await self.client.files.retrieve(file.file_id)
                name = file.name or PurePosixPath(described.filename).name
                size = described.bytes
        mime_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return file.model_copy(update={"name": name, "bytes": size, "mime_type": mime_type})
