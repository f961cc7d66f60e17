"""Where import rows come from: a managed file, a downloaded URL, or a Google Sheet."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.config import Config
from foredeck.errors import ValidationFailed
from foredeck.kit.paths import PathRefused, managed_file
from foredeck.operations.readers.formats import Batch, RowError
from foredeck.operations.sources.sheets import SheetsClient, SheetsError
from foredeck.settings import service as settings_service
from foredeck.settings.credentials import CredentialError, load_service_account, resolve_secret_file
from foredeck.settings.schemas import SheetsSettings

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def imports_dir(config: Config) -> Path:
    return config.path("imports")


def exports_dir(config: Config) -> Path:
    return config.path("exports")


def safe_filename(name: str | None, default: str = "upload") -> str:
    """A file name that cannot climb out of its folder."""
    base = os.path.basename(name or "") or default
    cleaned = SAFE_NAME.sub("_", base).strip("._") or default
    return cleaned[:128]


async def store_upload(config: Config, upload: Any) -> str:
    """Write an uploaded file (a Starlette UploadFile) into the import dir; its path there.

    An empty upload is refused (422) and leaves nothing behind."""
    name = safe_filename(upload.filename)
    relative = f"uploads/{uuid.uuid4().hex}/{name}"
    target = imports_dir(config) / relative

    def copy() -> int:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            upload.file.seek(0)
            shutil.copyfileobj(upload.file, out, 1 << 20)
        return target.stat().st_size

    try:
        size = await asyncio.to_thread(copy)
    finally:
        await upload.close()
    if size == 0:
        await asyncio.to_thread(shutil.rmtree, target.parent, True)
        raise ValidationFailed.field("file", "the uploaded file is empty")
    return relative


def discard_upload(config: Config, relative: str) -> None:
    """Remove an upload's folder (after its job, or when the import was refused)."""
    shutil.rmtree((imports_dir(config) / relative).parent, ignore_errors=True)


def resolve_import_path(config: Config, raw: str) -> Path:
    """A file inside the managed import directory (no '..', no link out of it), or 422."""
    try:
        return managed_file(imports_dir(config), raw, what="import directory", follow_links=True)
    except PathRefused as exc:
        raise ValidationFailed.field("path", str(exc)) from None


async def sheets_client(
    session: AsyncSession, config: Config
) -> tuple[SheetsClient, SheetsSettings]:
    """A client with the stored credentials and sheets settings, or 422 saying what is missing."""
    creds = await settings_service.get_section(session, "credentials")
    sheets = await settings_service.get_section(session, "sheets")
    if not creds.path:
        raise ValidationFailed.field("sheet", "set the credentials settings first")
    try:
        info = load_service_account(resolve_secret_file(config, creds.path))
    except CredentialError as exc:
        raise ValidationFailed.field(
            "sheet", f"the stored credentials are not usable: {exc}"
        ) from exc
    return SheetsClient.from_settings(info, sheets), sheets


def sheet_target(
    sheets: SheetsSettings, name: str | None, spreadsheet_id: str | None, a1: str | None
) -> tuple[str, str]:
    """(spreadsheet id, range) from a configured sheet name or given directly."""
    if name:
        for ref in sheets.sheets:
            if ref.name == name:
                return ref.spreadsheet_id, a1 or ref.range
        known = ", ".join(s.name for s in sheets.sheets) or "none configured"
        raise ValidationFailed.field("sheet", f"no sheet named {name!r} in the settings ({known})")
    assert spreadsheet_id is not None
    return spreadsheet_id, a1 or "Sheet1"


class SheetRows:
    """A sheet read as rows: the first row is the header; short rows are padded."""

    format = "sheet"
    total_rows: int | None = None
    total_bytes: int | None = None

    def __init__(self, client: SheetsClient, spreadsheet_id: str, a1: str) -> None:
        self.client = client
        self.spreadsheet_id = spreadsheet_id
        self.a1 = a1
        self.columns: list[str] = []
        self._rows: AsyncIterator[Any] | None = None

    async def open(self) -> None:
        """Read the header; a missing sheet or an empty one is refused here."""
        self._rows = self.client.iter_rows(self.spreadsheet_id, self.a1)
        try:
            header = await anext(self._rows)
        except StopAsyncIteration:
            raise ValidationFailed.field("sheet", "the sheet is empty") from None
        except SheetsError as exc:
            raise ValidationFailed.field("sheet", str(exc)) from exc
        self.columns = [str(h).strip() for h in header]
        if not any(self.columns):
            raise ValidationFailed.field("sheet", "the sheet's first row (the header) is empty")

    async def batches(self, size: int) -> AsyncIterator[Batch]:
        assert self._rows is not None
        width = len(self.columns)
        rows: list[tuple[int, Any]] = []
        errors: list[RowError] = []
        row_no = 0
        async for values in self._rows:
            row_no += 1
            if not values:
                continue
            if len(values) > width:
                errors.append(RowError(row_no, f"has {len(values)} cells, the header has {width}"))
            else:
                rows.append((row_no, list(values) + [None] * (width - len(values))))
            if len(rows) + len(errors) >= size:
                yield Batch(rows, errors)
                rows, errors = [], []
        if rows or errors:
            yield Batch(rows, errors)

    async def close(self) -> None:
        await self.client.aclose()
