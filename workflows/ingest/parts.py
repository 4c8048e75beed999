"""The outcomes of an ingest's parts (its child workflows), counted and listed in order.

The parent reads each part's result once: it counts its outcomes for the progress query and
keeps those its own result lists (`Listing`, within its budget) as JSON, so the memory it
holds does not grow by an object per file, nor with the number of files.
"""

from __future__ import annotations

from collections import Counter

from temporalio.common import RawValue

from workflows.ingest.contracts import IngestProgress, IngestResult
from workflows.ingest.listing import Listing


class Parts:
    def __init__(self, files: int) -> None:
        self.files = files
        self.done = 0
        self.ids: list[str] = []
        self._listing = Listing()

    def add(self, workflow_id: str, result: RawValue) -> None:
        """Count the result of the part `workflow_id` and list its outcomes, in the order
        the parts were given, each under its index in the whole ingest."""
        part = IngestResult.model_validate_json(result.payload.data)
        start = self.done
        for position, outcome in enumerate(part.files):
            outcome.index = start + outcome.index_or(position)
            self._listing.add(outcome)
        if part.files_omitted:
            self._listing.add_omitted(part)
        self.done += len(part.files) + part.files_omitted
        self.ids.append(workflow_id)

    def progress(self, phase: str, phase_done: int, phase_total: int) -> IngestProgress:
        listing, pending = self._listing, self.files - self.done
        return IngestProgress(
            phase=phase,
            files=self.files,
            bytes_total=listing.bytes_total,
            bytes_uploaded=listing.bytes_uploaded,
            by_status=dict(listing.by_status + Counter(pending=pending)),
            phase_done=phase_done,
            phase_total=phase_total,
        )

    def result(self, vector_store_id: str, file_counts: dict[str, int]) -> RawValue:
        """The ingest's `IngestResult` as the JSON payload a client reads."""
        return self._listing.result(vector_store_id, file_counts, self.ids)
