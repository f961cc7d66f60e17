"""Multipart uploads written straight into the import directory as the bytes arrive.

Starlette's form parser spools a file part to a temporary file that would then be copied;
this parser writes the one file part to its final place instead, so a large upload is
written once and never held in memory."""

from __future__ import annotations

import uuid
from typing import IO, Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from foredeck.config import Config
from foredeck.errors import ValidationFailed
from foredeck.operations.sources.locations import discard_upload, imports_dir, safe_filename

MAX_FIELDS = 50
MAX_FIELD_BYTES = 1 << 20


class _Collector:
    """Callbacks for the parser: small fields into memory, the file part onto disk."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.fields: dict[str, str] = {}
        self.relative: str | None = None
        self.size = 0
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._name = ""
        self._buffer = bytearray()
        self._file: IO[bytes] | None = None
        self._in_file = False

    def on_part_begin(self) -> None:
        self._headers = {}
        self._buffer = bytearray()
        self._in_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is None:
            return
        if self._name != "file" or self.relative is not None:
            raise ValidationFailed.field("file", "send exactly one file, in a field named file")
        name = safe_filename(filename.decode("utf-8", "replace"))
        self.relative = f"uploads/{uuid.uuid4().hex}/{name}"
        target = imports_dir(self.config) / self.relative
        target.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(target, "wb")
        self._in_file = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            assert self._file is not None
            self._file.write(data[start:end])
            self.size += end - start
            return
        self._buffer += data[start:end]
        if len(self._buffer) > MAX_FIELD_BYTES:
            raise ValidationFailed.field(self._name or "form", "a form field is too large")

    def on_part_end(self) -> None:
        if self._in_file:
            assert self._file is not None
            self._file.close()
            self._file = None
            return
        if len(self.fields) >= MAX_FIELDS:
            raise ValidationFailed.field("form", "too many form fields")
        self.fields[self._name] = self._buffer.decode("utf-8", "replace")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


async def receive_upload(request: Request, config: Config) -> tuple[dict[str, str], str]:
    """Parse a multipart body: (form fields, the file's path in the import dir)."""
    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary:
        raise ValidationFailed.field("file", "a multipart body needs a boundary")
    collector = _Collector(config)
    callbacks: Any = {
        name: getattr(collector, name)
        for name in (
            "on_part_begin",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
            "on_part_data",
            "on_part_end",
        )
    }
    parser = MultipartParser(boundary, callbacks)
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except BaseException:
        collector.close()
        if collector.relative is not None:
            discard_upload(config, collector.relative)
        raise
    collector.close()
    if collector.relative is None:
        raise ValidationFailed.field("file", "a multipart upload needs a file field named file")
    if collector.size == 0:
        discard_upload(config, collector.relative)
        raise ValidationFailed.field("file", "the uploaded file is empty")
    return collector.fields, collector.relative
