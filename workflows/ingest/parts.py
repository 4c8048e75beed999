"""The outcomes of an ingest's parts (its child workflows), kept as the JSON they came in.

An ingest of 10,000 files returns 10,000 outcomes: as models they take about 11 MB of the
worker's memory, as JSON 1.7 MB. The parent reads each part's result once, to count it for
the progress query, keeps its outcomes as JSON and joins them into its own result, so the
memory it holds grows by the size of that result only, not by 10,000 objects.
"""

from __future__ import annotations

from collections import Counter

from pydantic import TypeAdapter
from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue

from workflows.ingest.contracts import FileOutcome, IngestProgress, IngestResult

OUTCOMES = TypeAdapter(list[FileOutcome])
JSON = {"encoding": b"json/plain"}


class Parts:
    def __init__(self, files: int) -> None:
        self.files = files
        self.done = 0
        self.by_status: Counter[str] = Counter()
        self.bytes_total = 0
        self.bytes_uploaded = 0
        self._outcomes: list[bytes] = []  # each part's outcomes, a JSON array
        self._skipped: list[bytes] = []

    def add(self, result: RawValue) -> None:
        """Count a part's result and keep its outcomes, in the order the parts were given."""
        part = IngestResult.model_validate_json(result.payload.data)
        self.done += len(part.files)
        self.by_status.update(outcome.status for outcome in part.files)
        self.bytes_total += sum(outcome.bytes for outcome in part.files)
        self.bytes_uploaded += sum(o.bytes for o in part.files if o.file_id)
        self._outcomes.append(OUTCOMES.dump_json(part.files))
        self._skipped.append(OUTCOMES.dump_json(part.skipped))

    def progress(self, phase: str, phase_done: int, phase_total: int) -> IngestProgress:
        pending = self.files - self.done
        return IngestProgress(
            phase=phase,
            files=self.files,
            bytes_total=self.bytes_total,
            bytes_uploaded=self.bytes_uploaded,
            by_status=dict(self.by_status + Counter(pending=pending)),
            phase_done=phase_done,
            phase_total=phase_total,
        )

    def result(self, vector_store_id: str, file_counts: dict[str, int]) -> RawValue:
        """The ingest's `IngestResult` as the JSON payload a client reads, joined from the
        parts' outcomes in one copy, without building them again. The parts' copies are let
        go of then: while the SDK passes the result on, the worker holds it once less."""
        head = IngestResult(
            vector_store_id=vector_store_id, files=[], file_counts=file_counts, skipped=[]
        )
        fields = head.model_dump_json(exclude={"files", "skipped"})[:-1].encode()
        pieces = [fields, b',"files":[', *_items(self._outcomes), b'],"skipped":[']
        data = b"".join([*pieces, *_items(self._skipped), b"]}"])
        self._outcomes, self._skipped = [], []
        return RawValue(Payload(metadata=JSON, data=data))


def _items(arrays: list[bytes]) -> list[bytes | memoryview]:
    """The items of JSON arrays as pieces of one (`[1,2]`, `[]`, `[3]`: `1,2` `,` `3`),
    each a view into its array rather than a copy."""
    pieces: list[bytes | memoryview] = []
    for array in arrays:
        if array == b"[]":
            continue
        if pieces:
            pieces.append(b",")
        pieces.append(memoryview(array)[1:-1])
    return pieces
