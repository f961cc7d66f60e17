"""Files through the client: multipart uploads from a path, bytes or a file object, and
downloads streamed in chunks to a path or a file object instead of read into memory.

The generated methods take these types: an operation whose request body offers
multipart/form-data has a parameter per binary field (an `Upload`) and per form field; an
operation answering with a file or other raw body has `to=` (a `Destination`) and `progress=`.
"""

from __future__ import annotations

import asyncio
import enum
import json
import mimetypes
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

import httpx

# A path (opened and closed by the client), the bytes themselves, an open binary file, or
# httpx's own (filename, content[, content_type]) tuple.
Upload = str | os.PathLike[str] | bytes | IO[bytes] | tuple[str, Any] | tuple[str, Any, str]
# A path (written next to it as NAME.part and renamed once complete) or a binary file.
Destination = str | os.PathLike[str] | IO[bytes]
# Called after each chunk with the bytes written so far and the expected total (None when
# the server did not say, or sent it compressed).
Progress = Callable[[int, int | None], None]

CHUNK_SIZE = 1 << 20


def form_value(value: Any) -> str:
    """A form field's text: strings as they are, anything else as JSON (the server parses
    numbers, booleans and objects such as an import's `mapping` from that)."""
    if isinstance(value, str):
        return value
    if isinstance(value, enum.Enum):
        return form_value(value.value)
    if hasattr(value, "model_dump_json"):
        return str(value.model_dump_json(exclude_unset=True))
    return json.dumps(value)


def _guess(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _file(field: str, value: Upload, stack: ExitStack) -> Any:
    if isinstance(value, tuple):
        return value
    if isinstance(value, bytes):
        return (field, value, "application/octet-stream")
    if isinstance(value, str | os.PathLike):
        path = Path(value)
        return (path.name, stack.enter_context(path.open("rb")), _guess(path.name))
    name = getattr(value, "name", None)
    filename = Path(name).name if isinstance(name, str) else field
    return (filename, value, _guess(filename))


@contextmanager
def multipart(
    upload: dict[str, Any] | None, form: dict[str, Any] | None, *, has_json: bool
) -> Iterator[tuple[dict[str, Any] | None, dict[str, str] | None]]:
    """httpx's `files` and `data` for a call, with the paths among them open meanwhile;
    (None, None) when no file was given (the call sends its JSON body, if any)."""
    files = {k: v for k, v in (upload or {}).items() if v is not None}
    data = {k: form_value(v) for k, v in (form or {}).items() if v is not None}
    if not files:
        if data:
            raise TypeError(f"{', '.join(data)}: form fields go with an upload; pass the file")
        yield None, None
        return
    if has_json:
        raise TypeError("pass either a JSON body or a file to upload, not both")
    with ExitStack() as stack:
        yield {k: _file(k, v, stack) for k, v in files.items()}, data


def expected_size(resp: httpx.Response) -> int | None:
    """The body's size as it will be written: Content-Length, unless it counts compressed bytes."""
    length = resp.headers.get("Content-Length")
    if length is None or resp.headers.get("Content-Encoding", "identity") != "identity":
        return None
    try:
        return int(length)
    except ValueError:
        return None


@contextmanager
def opened(dest: Destination) -> Iterator[IO[bytes]]:
    """A file object to write to; a path is written as NAME.part and renamed when complete,
    so an interrupted download never leaves a truncated file under the real name."""
    if not isinstance(dest, str | os.PathLike):
        yield dest
        return
    path = Path(dest)
    part = path.with_name(path.name + ".part")
    try:
        with part.open("wb") as fh:
            yield fh
        part.replace(path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def save(resp: httpx.Response, dest: Destination, progress: Progress | None) -> int:
    """Write a streamed response's body to dest in chunks; the bytes written."""
    total, done = expected_size(resp), 0
    with opened(dest) as out:
        for chunk in resp.iter_bytes(CHUNK_SIZE):
            out.write(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return done


async def asave(resp: httpx.Response, dest: Destination, progress: Progress | None) -> int:
    """save() for the async client: each write runs in a thread, off the event loop."""
    total, done = expected_size(resp), 0
    with opened(dest) as out:
        async for chunk in resp.aiter_bytes(CHUNK_SIZE):
            await asyncio.to_thread(out.write, chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return done


__all__ = ["CHUNK_SIZE", "Destination", "Progress", "Upload"]
