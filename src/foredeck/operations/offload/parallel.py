"""Staging one file in two operations workers at once (SQLite imports of large files).

Reading, converting and writing the staging file is most of an import's time and runs in one
process per worker; two workers on the two halves of the file (split at a record boundary,
see readers/split.py) do it in about half the time. The second part numbers its rows from 1 and
learns its offset when the first part ends, so its row errors are held until then and
reported in file order; the first worker then appends the second part's rows to its own
staging file with the offset added, and everything after that (duplicate checks across the
whole file, the merge) is what a single pass would do. A split the first part's reader
finds was not on a record boundary, or an error in the second part (whose message would
number rows from the split), makes the import read the whole file again in one pass.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field, replace
from pathlib import Path

from foredeck.logging import get_logger
from foredeck.operations.errors import OperationFailed
from foredeck.operations.imports import staging
from foredeck.operations.imports.merge import Counts, Reporter, Stage
from foredeck.operations.imports.staging import BatchOut, Opened, SourceSpec
from foredeck.operations.offload import pool
from foredeck.operations.readers.formats import RowError

log = get_logger(__name__)
# Below this size one worker is quicker than handing half the file to a second one.
MIN_BYTES = 8 << 20
# When no second worker is idle, starting one (about a second) must pay for itself too.
COLD_MIN_BYTES = 32 << 20
# Row errors listed per batch event; the full list (up to the limit) is in the result.
ROW_EVENT_MAX = 50


def split_min_bytes(size: int) -> int | None:
    """The size from which a file of `size` bytes is split (None: too small to try).

    Without a second worker idle, one is started for the next large import, and this one
    is split only if it is big enough to pay for waiting on that start."""
    if size < MIN_BYTES:
        return None
    if pool.idle_count():
        return MIN_BYTES
    if size < COLD_MIN_BYTES:
        pool.prestart()
    return COLD_MIN_BYTES


@dataclass
class Sink:
    """Where staged batches are counted, reported and (PostgreSQL) written."""

    opened: Opened
    stage: Stage
    reporter: Reporter
    counts: Counts
    limit: int
    collection: str
    # Row errors up to this row number were already sent as events (before a second pass).
    events_upto: int = 0

    async def store(self, got: BatchOut) -> None:
        self.tally(got)
        await self.errors(got.errors, got.error_count)
        if got.rows:
            await self.stage.add(got.rows)
        await self.progress(got.bytes_read)

    def tally(self, got: BatchOut) -> None:
        self.counts.rows_read += got.rows_read
        self.counts.staged += got.staged
        self.counts.staged_without_ext += got.without_ext

    async def errors(self, errors: list[RowError], count: int, offset: int = 0) -> None:
        if offset:
            errors = [RowError(e.row + offset, e.reason) for e in errors]
        before = self.counts.error_count
        self.counts.add_errors(errors, self.limit, total=count)
        emit = getattr(self.reporter, "event", None)
        shown = [e for e in errors if e.row > self.events_upto][:ROW_EVENT_MAX]
        if shown and emit is not None and before < self.limit:
            await emit(
                "row_errors",
                {"errors": [{"row": e.row, "reason": e.reason} for e in shown]},
                level="warning",
                message=f"{count} rows skipped in this batch",
            )

    async def progress(self, bytes_read: int) -> None:
        counts, opened = self.counts, self.opened
        total = opened.total_rows
        if total is None and opened.total_bytes and bytes_read:
            total = max(counts.rows_read, int(counts.rows_read * opened.total_bytes / bytes_read))
        await self.reporter.progress(
            done=counts.rows_read,
            total=max(total or 0, counts.rows_read) if total else None,
            message=f"read {counts.rows_read} rows into {self.collection}",
            **counts.counters(),
        )

    def restart(self, opened: Opened) -> None:
        """Count again from the start (a second pass); errors already sent are not resent."""
        self.events_upto = max([self.events_upto, *(e.row for e in self.counts.errors)])
        self.counts.reset()
        self.opened = opened


@dataclass
class _Second:
    """The second part's tallies, and its row errors held until its offset is known."""

    staged: int = 0
    without_ext: int = 0
    held: list[tuple[list[RowError], int]] = field(default_factory=list)
    kept: int = 0
    bytes_read: int = 0

    def add(self, got: BatchOut, limit: int) -> None:
        self.staged += got.staged
        self.without_ext += got.without_ext
        self.bytes_read = got.bytes_read
        if got.error_count:
            # Only what the result can list is kept; the rest are counted.
            errors = got.errors[: max(0, limit - self.kept)]
            self.kept += len(errors)
            self.held.append((errors, got.error_count))

    async def release(self, sink: Sink, offset: int) -> None:
        """Report the held errors, numbered as in the whole file."""
        held, self.held = self.held, []
        for errors, count in held:
            await sink.errors(errors, count, offset)


async def stage_in_two(
    first: pool.OperationsWorker,
    spec: SourceSpec,
    opened: Opened,
    part_file: Path,
    sink: Sink,
) -> list[tuple[str, int, int, int]] | None:
    """Stage the file's second part in another worker while `first` stages the first part.

    The parts to hand to staging.finish, or None when the file must be read in one pass."""
    assert opened.split is not None
    part_spec = replace(spec, stage_file=str(part_file), split_min_bytes=None, part=opened.split)
    async with pool.lease() as second:
        try:
            await second.call(staging.open_source, part_spec)
        except OperationFailed as exc:
            log.info("import_split_refused", reason=str(exc))
            return None
        workers = (first, second)
        pending = {
            i: asyncio.ensure_future(w.call(staging.next_batch)) for i, w in enumerate(workers)
        }
        part = _Second()
        first_bytes = 0
        offset: int | None = None
        try:
            while pending:
                await sink.reporter.check()
                await asyncio.wait(pending.values(), return_when=asyncio.FIRST_COMPLETED)
                for i in sorted(i for i, f in pending.items() if f.done()):
                    try:
                        got = pending.pop(i).result()
                    except OperationFailed as exc:
                        if i == 0:
                            raise
                        # Its message numbers rows from the split: one pass tells it right.
                        log.info("import_split_part_failed", reason=str(exc))
                        return None
                    if got.done:
                        if i == 0:
                            if not got.split_ok:
                                log.info("import_split_not_on_a_record_boundary")
                                return None
                            offset = got.last_row
                            await part.release(sink, offset)
                        continue
                    pending[i] = asyncio.ensure_future(workers[i].call(staging.next_batch))
                    if i == 0:
                        first_bytes = got.bytes_read
                        await sink.store(replace(got, bytes_read=first_bytes + part.bytes_read))
                        continue
                    sink.tally(got)
                    part.add(got, sink.limit)
                    if offset is not None:
                        await part.release(sink, offset)
                    await sink.progress(first_bytes + part.bytes_read)
        finally:
            # Let calls in flight finish, so both workers are idle (and reusable) afterwards.
            for future in pending.values():
                if not future.done():
                    with contextlib.suppress(BaseException):
                        await future
    assert offset is not None
    return [(str(part_file), offset, part.staged, part.without_ext)]


def part_file_for(stage_file: Path) -> Path:
    return stage_file.with_name(stage_file.stem + "-part2.db")
