"""What a file is: its format (by name or first bytes) and its text encoding."""

from __future__ import annotations

import codecs
from pathlib import Path

SAMPLE_BYTES = 256 * 1024


class ReadError(ValueError):
    """The file cannot be read as asked; the message says why and is safe to show."""


def detect_format(path: Path, given: str | None = None) -> str:
    """The format named, else by extension, else by the first bytes."""
    if given and given != "auto":
        return given
    suffix = path.suffix.lower()
    by_suffix = {
        ".csv": "csv",
        ".tsv": "csv",
        ".txt": "csv",
        ".json": "json",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".parquet": "parquet",
        ".pq": "parquet",
    }
    if suffix in by_suffix:
        return by_suffix[suffix]
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        return "jsonl"
    return "csv"


def detect_encoding(path: Path, given: str | None = None) -> str:
    """The encoding named (checked to exist), else UTF-8 when the sample decodes, else a guess."""
    if given:
        try:
            codecs.lookup(given)
        except LookupError as exc:
            raise ReadError(f"unknown encoding {given!r}") from exc
        return given
    with open(path, "rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        # A multi-byte character may be cut at the sample's end.
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 4:
            return "utf-8"
    from charset_normalizer import from_bytes

    matches = list(from_bytes(sample))
    if not matches:
        raise ReadError("cannot detect the text encoding; give one (e.g. encoding=latin-1)")
    best = matches[0]
    # Short samples often tie; Western European text is then the likelier reading.
    for match in matches:
        if (match.chaos, match.coherence) == (best.chaos, best.coherence):
            if match.encoding == "cp1252":
                return "cp1252"
    return str(best.encoding)


def check_decodes(path: Path, encoding: str) -> None:
    """Refuse at once a file whose first part does not decode with the encoding."""
    with open(path, "rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        decoder.decode(sample, final=False)
    except UnicodeDecodeError as exc:
        raise ReadError(
            f"the file is not valid {encoding} (byte {exc.start}); give the right encoding"
        ) from exc
