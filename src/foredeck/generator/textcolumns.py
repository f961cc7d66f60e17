"""Column generators for text: strings, words, values composed from pools, regex patterns."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from foredeck.generator import patterns, sentences
from foredeck.generator.columns import BASE62, MAX_CAPACITY, Column, ColumnError
from foredeck.generator.pools import ascii_pool, pool
from foredeck.generator.schemas import FieldSpec, FieldType

DEFAULT_PHONE = "+1-###-###-####"


class StringColumn(Column):
    def __init__(self, spec: FieldSpec, locale: str) -> None:
        super().__init__(spec, locale)
        self.lo = spec.min_length if spec.min_length is not None else 8
        self.hi = spec.max_length if spec.max_length is not None else max(self.lo, 16)
        if self.lo > self.hi:
            raise ColumnError(f"min_length {self.lo} is above max_length {self.hi}")
        if self.hi > 10_000:
            raise ColumnError("max_length must be at most 10000")

    def capacity(self) -> int:
        return min(62**self.hi, MAX_CAPACITY)

    def _chars(self, rng: np.random.Generator, n: int, lo: int, hi: int) -> pa.Array:
        lengths = rng.integers(lo, hi, n, endpoint=True)
        pieces = []
        for position in range(hi):
            piece = BASE62.take(pa.array(rng.integers(0, 62, n)))
            if position >= lo:
                piece = pc.if_else(pa.array(lengths > position), piece, "")
            pieces.append(piece)
        return patterns._join(pieces, n)

    def random(self, rng: np.random.Generator, n: int) -> pa.Array:
        return self._chars(rng, n, self.lo, self.hi)

    def coded(self, codes: np.ndarray) -> pa.Array:
        # A fixed-width base-62 tail carries the code; a seeded prefix pads to the length.
        width = 1
        while 62**width < min(self.capacity(), MAX_CAPACITY) and width < 11:
            width += 1
        width = min(width, self.hi)
        rest = codes.astype(np.uint64)
        digits = []
        for _ in range(width):
            digits.append(BASE62.take(pa.array(rest % np.uint64(62))))
            rest = rest // np.uint64(62)
        tail = patterns._join(digits, len(codes))
        pad_lo, pad_hi = max(self.lo - width, 0), self.hi - width
        if pad_hi == 0:
            return tail
        rng = np.random.default_rng(int(codes[0]) if len(codes) else 0)
        return pc.binary_join_element_wise(self._chars(rng, len(codes), pad_lo, pad_hi), tail, "")


class WordsColumn(Column):
    """Free text: lorem is a run of Latin filler words, text reads as sentences."""

    def __init__(self, spec: FieldSpec, locale: str) -> None:
        super().__init__(spec, locale)
        hi = spec.max_length
        self.lo = spec.min_length if spec.min_length is not None else min(6, hi or 6)
        self.hi = hi if hi is not None else max(self.lo, 20)
        if self.lo > self.hi:
            raise ColumnError(f"min_length {self.lo} is above max_length {self.hi}")
        if self.hi > 1000:
            raise ColumnError("max_length (words) must be at most 1000")

    def random(self, rng: np.random.Generator, n: int) -> pa.Array:
        if self.hi == 0:
            return pa.array([""] * n, pa.string())
        if self.spec.type == FieldType.text:
            return sentences.paragraphs(rng, n, self.lo, self.hi)
        words = pool("lorem")
        counts = rng.integers(max(self.lo, 1), max(self.hi, 1), n, endpoint=True)
        pieces = []
        for position in range(max(self.hi, 1)):
            piece = words.take(pa.array(rng.integers(0, len(words), n)))
            if position >= self.lo:
                piece = pc.if_else(pa.array(counts > position), piece, pa.scalar(None, pa.string()))
            pieces.append(piece)
        text = pc.binary_join_element_wise(*pieces, " ", null_handling="skip")
        return pc.binary_join_element_wise(pc.utf8_capitalize(text), ".", "")


class TitleColumn(Column):
    """Short title-cased phrases, for titles, subjects and product names."""

    def random(self, rng: np.random.Generator, n: int) -> pa.Array:
        return sentences.titles(rng, n)


class ComposedColumn(Column):
    """Values assembled from pools: each component is a pool of strings or a digit range."""

    template: str = "{0}"

    def components(self) -> list[pa.Array | int]:
        raise NotImplementedError

    def capacity(self) -> int:
        total = 1
        for comp in self.components():
            total *= comp if isinstance(comp, int) else len(comp)
        return min(total, MAX_CAPACITY)

    def _assemble(self, parts: list[pa.Array]) -> pa.Array:
        pieces: list[pa.Array | str] = []
        for literal, index in _split_template(self.template):
            if literal:
                pieces.append(literal)
            if index is not None:
                pieces.append(parts[index])
        arrays = [p for p in pieces if not isinstance(p, str)]
        if len(pieces) == 1 and arrays:
            return arrays[0]
        n = len(arrays[0])
        return patterns._join(
            [p if not isinstance(p, str) else pa.array([p] * n) for p in pieces], n
        )

    def _part(self, comp: pa.Array | int, idx: np.ndarray) -> pa.Array:
        if isinstance(comp, int):
            return pc.cast(pa.array(idx.astype(np.int64)), pa.string())
        return comp.take(pa.array(idx.astype(np.int64)))

    def random(self, rng: np.random.Generator, n: int) -> pa.Array:
        comps = self.components()
        return self._assemble(
            [self._part(c, rng.integers(0, c if isinstance(c, int) else len(c), n)) for c in comps]
        )

    def coded(self, codes: np.ndarray) -> pa.Array:
        rest = codes.astype(np.uint64)
        parts = []
        for comp in self.components():
            size = np.uint64(comp if isinstance(comp, int) else len(comp))
            parts.append(self._part(comp, rest % size))
            rest = rest // size
        return self._assemble(parts)


def _split_template(template: str) -> list[tuple[str, int | None]]:
    out: list[tuple[str, int | None]] = []
    literal = ""
    i = 0
    while i < len(template):
        if template[i] == "{":
            end = template.index("}", i)
            out.append((literal, int(template[i + 1 : end])))
            literal = ""
            i = end + 1
        else:
            literal += template[i]
            i += 1
    if literal:
        out.append((literal, None))
    return out


class PoolColumn(ComposedColumn):
    kinds = {
        FieldType.first_name: "first_name",
        FieldType.last_name: "last_name",
        FieldType.city: "city",
        FieldType.country: "country",
        FieldType.company: "company",
        FieldType.job_title: "job_title",
        FieldType.user_agent: "user_agent",
        FieldType.airport: "airport",
        FieldType.currency: "currency",
        FieldType.color: "color",
        FieldType.car_make: "car_make",
        FieldType.car_model: "car_model",
        FieldType.country_code: "country_code",
        FieldType.postal_code: "postal_code",
        FieldType.state: "state",
    }

    def components(self) -> list[pa.Array | int]:
        return [pool(self.kinds[self.spec.type], self.locale)]


class NameColumn(ComposedColumn):
    template = "{0} {1}"

    def components(self) -> list[pa.Array | int]:
        return [pool("first_name", self.locale), pool("last_name", self.locale)]


class EmailColumn(ComposedColumn):
    template = "{0}.{1}{2}@{3}"

    def components(self) -> list[pa.Array | int]:
        return [
            ascii_pool("first_name", self.locale),
            ascii_pool("last_name", self.locale),
            100,
            pool("email_domain"),
        ]


class UsernameColumn(ComposedColumn):
    template = "{0}{1}{2}"

    def components(self) -> list[pa.Array | int]:
        return [ascii_pool("first_name", self.locale), ascii_pool("last_name", self.locale), 100]


FIRST_OCTETS = pa.array([str(i) for i in range(1, 224) if i not in (10, 127)], pa.string())


class IPAddressColumn(ComposedColumn):
    """IPv4 addresses in public unicast space (no 0.x, 10.x, loopback or multicast)."""

    template = "{0}.{1}.{2}.{3}"

    def components(self) -> list[pa.Array | int]:
        return [FIRST_OCTETS, 256, 256, 256]


class AddressColumn(ComposedColumn):
    template = "{0} {1} {2}, {3}"

    def components(self) -> list[pa.Array | int]:
        return [
            10_000,
            pool("street", self.locale),
            pool("street_suffix", self.locale),
            pool("city", self.locale),
        ]


class URLColumn(ComposedColumn):
    template = "https://www.{0}.{1}/{2}"

    def components(self) -> list[pa.Array | int]:
        return [ascii_pool("url_word", "en"), pool("tld"), ascii_pool("word", "en")]


class PatternColumn(Column):
    def __init__(self, spec: FieldSpec, locale: str) -> None:
        super().__init__(spec, locale)
        text = spec.pattern
        if spec.type == FieldType.phone:
            text = _phone_pattern(spec.format or DEFAULT_PHONE)
        if not text:
            raise ColumnError("a pattern field needs `pattern`")
        try:
            self.node = patterns.parse(text)
        except patterns.PatternError as exc:
            raise ColumnError(f"pattern: {exc}") from exc
        if patterns.cost(self.node, coded=False) > patterns.MAX_COST:
            raise ColumnError("pattern: too many repetitions to generate; shorten the quantifiers")

    def capacity(self) -> int | None:
        # Unique values enumerate every repetition count separately; refuse what would explode.
        if patterns.cost(self.node, coded=True) > patterns.MAX_COST:
            self.unique_note = "this pattern has too many repetition counts to keep unique"
            return None
        return min(self.node.capacity(), MAX_CAPACITY)

    def random(self, rng: np.random.Generator, n: int) -> pa.Array:
        return patterns.generate(self.node, rng, n)

    def coded(self, codes: np.ndarray) -> pa.Array:
        return patterns.from_codes(self.node, codes)


def _phone_pattern(mask: str) -> str:
    out = []
    for ch in mask:
        out.append(r"\d" if ch == "#" else ("\\" + ch if not ch.isalnum() and ch != " " else ch))
    return "".join(out)
