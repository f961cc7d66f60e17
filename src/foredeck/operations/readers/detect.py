"""What a file is: its format (by name or first bytes) and its text encoding."""

from __future__ import annotations

import codecs
import csv
import io
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


# Codecs Python names like text encodings that cannot read a file: host names (idna,
# punycode) and the codec that refuses everything.
NOT_FILE_ENCODINGS = frozenset({"idna", "punycode", "undefined"})


def check_encoding(given: str) -> str:
    """The encoding given, if it is a text encoding a file can be written in; ReadError if not.

    codecs.lookup also finds bytes-to-bytes codecs (base64, zlib, rot13...) that fail inside
    the readers with errors of their own, and raises ValueError for a name with a NUL."""
    try:
        info = codecs.lookup(given)
    except (LookupError, ValueError):
        raise ReadError(f"unknown encoding {given[:64]!a}") from None
    if not getattr(info, "_is_text_encoding", True) or info.name in NOT_FILE_ENCODINGS:
        raise ReadError(f"{given[:64]!a} is not a text encoding a file can be read in")
    return given


def detect_encoding(path: Path, given: str | None = None) -> str:
    """The encoding named (checked to exist), else UTF-8 when the sample decodes, else a guess."""
    if given:
        return check_encoding(given)
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
    except UnicodeError as exc:
        # UTF-16/32 without a byte order mark, for one: no position to name.
        raise ReadError(
            f"the file is not valid {encoding} ({exc}); give the right encoding"
        ) from exc


SNIFF_DELIMITERS = ",;\t|"


class _Sniffed(csv.Dialect):
    delimiter = ","
    quotechar = '"'
    escapechar = None
    doublequote = True
    skipinitialspace = False
    lineterminator = "\r\n"
    quoting = csv.QUOTE_MINIMAL


def sniff_dialect(
    sample: str, *, whole: bool = True, delimiters: str = SNIFF_DELIMITERS
) -> type[csv.Dialect]:
    """The CSV dialect that reads the sample best, RFC 4180 (doubled quotes) unless shown otherwise.

    Not csv.Sniffer: it sets doublequote=False unless one line holds a doubled quote between
    delimiters (so quoted fields with newlines and `""` come apart), guesses skipinitialspace
    and quotechar from text inside quoted fields, and its regular expressions take seconds on
    some 64 KiB samples. Here each candidate reads the sample and the most consistent wins."""
    first_line = sample.split("\n", 1)[0]
    order = sorted(delimiters, key=lambda d: -first_line.count(d))
    quotes = ['"']
    # An apostrophe is usually text, not a quote; it is tried only in a file without `"`.
    if '"' not in sample and "'" in sample:
        quotes.append("'")
    best: Score | None = None
    chosen: type[csv.Dialect] = _Sniffed
    for delimiter in order:
        for quote in quotes:
            # Backslash escapes are tried only where the sample has one before a quote, since
            # they change what a backslash anywhere else means (`C:\dir\` in an RFC file).
            escapes: list[str | None] = [None]
            if "\\" + quote in sample:
                # Where both read the sample equally well, `\"` and no `""` tips it to escapes.
                escaped = not _doubled(sample, delimiter, quote)
                escapes = ["\\", None] if escaped else [None, "\\"]
            spaces = [True, False] if _spaced_header(sample, delimiter, quote) else [False, True]
            for escape in escapes:
                for space in spaces:
                    dialect = type(
                        "Sniffed",
                        (_Sniffed,),
                        {
                            "delimiter": delimiter,
                            "quotechar": quote,
                            "escapechar": escape,
                            "doublequote": escape is None,
                            "skipinitialspace": space,
                        },
                    )
                    score = _consistency(sample, dialect, whole)
                    # Ties keep the earlier candidate: the header's commonest delimiter, RFC 4180.
                    if best is None or score > best:
                        best, chosen = score, dialect
    return chosen


def _doubled(sample: str, delimiter: str, quote: str) -> bool:
    """Whether the sample doubles a quote inside a field (`""` that is not an empty field)."""
    pair = quote * 2
    at = sample.find(pair)
    while at >= 0:
        back = at
        while back and sample[back - 1] == " ":
            back -= 1
        before = sample[back - 1 : back] if back else ""
        after = sample[at + 2 : at + 3]
        empty = before in ("", delimiter, "\n", "\r") and after in ("", delimiter, "\n", "\r")
        if before != "\\" and not empty:
            return True
        at = sample.find(pair, at + 1)
    return False


def _spaced_header(sample: str, delimiter: str, quote: str) -> bool:
    """Whether the header puts a space after every delimiter (`a, b, c`): read as padding."""
    try:
        header = next(
            csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, quotechar=quote)
        )
    except (StopIteration, csv.Error):
        return False
    return len(header) > 1 and all(name.startswith(" ") for name in header[1:])


Score = tuple[int, int, float]


def _consistency(sample: str, dialect: type[csv.Dialect], whole: bool) -> Score:
    """How well the dialect reads the sample: (read without an error, more than one column,
    share of records as wide as the header). A sample cut from a longer file may end inside
    a quoted field, so there an error at its very end does not count."""
    lines = io.StringIO(sample, newline="")
    strict = type("Strict", (dialect,), {"strict": True})
    reader = csv.reader(lines, strict)
    width = 0
    good = bad = 0
    clean = 1
    try:
        for record in reader:
            if not width:
                width = len(record)
            elif len(record) == width:
                good += 1
            elif record:
                bad += 1
    except csv.Error:
        if whole or lines.read():
            clean = 0
    share = good / (good + bad) if good + bad else 0.0
    return (clean, int(width > 1), share)
