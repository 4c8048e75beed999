"""The outcomes an ingest's result lists, kept as JSON within RESULT_BUDGET.

Every file's outcome when they all fit; once they do not, the outcomes of the completed files
are let go of and only those of the files not completed are kept, in order, as many as fit.
What an ingest holds for its result, and the result itself, stay bounded however many files
it has: 10,000 outcomes take 1.7 MB or more of JSON, and Temporal refuses a result over 2 MiB.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from pydantic import TypeAdapter
from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue

from workflows.ingest.contracts import RESULT_BUDGET, FileOutcome, IngestResult

OUTCOME = TypeAdapter(FileOutcome)
JSON = {"encoding": b"json/plain"}


@dataclass(slots=True)
class Listed:
    json: bytes
    completed: bool
    skipped: bool

    @property
    def cost(self) -> int:
        """Bytes it takes of the result: with its comma, twice if `skipped` lists it too."""
        return (len(self.json) + 1) * (2 if self.skipped else 1)


class Listing:
    def __init__(self, budget: int = RESULT_BUDGET) -> None:
        self.by_status: Counter[str] = Counter()
        self.bytes_total = 0
        self.bytes_uploaded = 0
        self.omitted = 0
        self._budget = budget
        self._listed: list[Listed] = []
        self._cost = 0
        self._every_file = True  # completed files are listed too
        self._full = False  # no more files not completed fit

    def add(self, outcome: FileOutcome) -> None:
        """Count an outcome (the next file's) and list it, if it fits."""
        self.by_status[outcome.status] += 1
        self.bytes_total += outcome.bytes
        self.bytes_uploaded += outcome.bytes if outcome.file_id else 0
        completed = outcome.status == "completed"
        if (completed and not self._every_file) or (not completed and self._full):
            self.omitted += 1
            return
        listed = Listed(OUTCOME.dump_json(outcome), completed, outcome.status == "skipped")
        if self._every_file and not self._fits(listed):
            self._list_not_completed_only()
        if self._fits(listed) and (self._every_file or not completed):
            self._listed.append(listed)
            self._cost += listed.cost
        else:
            self._full = self._full or not completed
            self.omitted += 1

    def _fits(self, listed: Listed) -> bool:
        return self._cost + listed.cost <= self._budget

    def add_omitted(self, part: IngestResult) -> None:
        """Count the outcomes a part's result left out of its list: from now on not every
        file can be listed."""
        self._list_not_completed_only()
        listed = part.files
        self.by_status += Counter(part.by_status) - Counter(o.status for o in listed)
        self.bytes_total += part.bytes_total - sum(o.bytes for o in listed)
        self.bytes_uploaded += part.bytes_uploaded - sum(o.bytes for o in listed if o.file_id)
        self.omitted += part.files_omitted

    def _list_not_completed_only(self) -> None:
        if not self._every_file:
            return
        self._every_file = False
        kept = [listed for listed in self._listed if not listed.completed]
        self.omitted += len(self._listed) - len(kept)
        self._listed, self._cost = kept, sum(listed.cost for listed in kept)

    def result(
        self, vector_store_id: str, file_counts: dict[str, int], parts: list[str]
    ) -> RawValue:
        """The `IngestResult` as the JSON payload a client reads, joined in one copy. The
        outcomes are let go of then: while the SDK passes the result on, the worker holds
        it once less."""
        head = IngestResult(
            vector_store_id=vector_store_id,
            files=[],
            file_counts=file_counts,
            skipped=[],
            by_status=dict(self.by_status),
            files_omitted=self.omitted,
            bytes_total=self.bytes_total,
            bytes_uploaded=self.bytes_uploaded,
            parts=parts,
        )
        fields = head.model_dump_json(exclude={"files", "skipped"})[:-1].encode()
        files = b",".join(listed.json for listed in self._listed)
        skipped = b",".join(listed.json for listed in self._listed if listed.skipped)
        self._listed = []
        data = b"".join([fields, b',"files":[', files, b'],"skipped":[', skipped, b"]}"])
        return RawValue(Payload(metadata=JSON, data=data))
