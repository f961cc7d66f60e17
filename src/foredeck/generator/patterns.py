"""A regex subset turned into a vectorised string generator.

Supported: literals, escapes (\\d \\w \\s and escaped punctuation), `.`, classes `[A-Z0-9_]`,
groups with alternation `(ab|cd)`, and quantifiers `{n}`, `{n,m}`, `?`, `*`, `+` (open-ended
ones stop at 8). That covers identifiers such as `INV-\\d{6}` or `[A-Z]{3}-(EU|US)`; anything
else is refused with a message naming the construct, so nothing is silently mis-generated.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

OPEN_REPEAT = 8
DIGITS = string.digits
WORD = string.ascii_letters + string.digits + "_"
ANY = string.ascii_letters + string.digits


class PatternError(ValueError):
    """The pattern uses something the generator does not support."""


@dataclass
class Chars:
    alphabet: str

    def capacity(self) -> int:
        return len(self.alphabet)


@dataclass
class Seq:
    parts: list[Node]

    def capacity(self) -> int:
        total = 1
        for part in self.parts:
            total *= part.capacity()
        return total


@dataclass
class Alt:
    options: list[Node]

    def capacity(self) -> int:
        return sum(option.capacity() for option in self.options)


@dataclass
class Repeat:
    node: Node
    lo: int
    hi: int

    def capacity(self) -> int:
        base = self.node.capacity()
        return sum(base**count for count in range(self.lo, self.hi + 1))

    def as_alt(self) -> Alt:
        return Alt([Seq([self.node] * count) for count in range(self.lo, self.hi + 1)])


Node = Chars | Seq | Alt | Repeat


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> Node:
        if self.text.startswith("^"):
            self.pos = 1
        node = self._alternation()
        if self.pos < len(self.text) and self.text[self.pos :] != "$":
            raise PatternError(f"unexpected {self.text[self.pos]!r} at position {self.pos}")
        return node

    def _peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def _alternation(self) -> Node:
        options = [self._sequence()]
        while self._peek() == "|":
            self.pos += 1
            options.append(self._sequence())
        return options[0] if len(options) == 1 else Alt(options)

    def _sequence(self) -> Node:
        parts: list[Node] = []
        while (ch := self._peek()) is not None and ch not in "|)":
            if ch == "$" and self.pos == len(self.text) - 1:
                break
            parts.append(self._quantified(self._atom()))
        return parts[0] if len(parts) == 1 else Seq(parts)

    def _atom(self) -> Node:
        ch = self.text[self.pos]
        self.pos += 1
        if ch == "(":
            if self.text.startswith("?:", self.pos):
                self.pos += 2
            node = self._alternation()
            if self._peek() != ")":
                raise PatternError("a group is not closed")
            self.pos += 1
            return node
        if ch == "[":
            return Chars(self._char_class())
        if ch == "\\":
            return Chars(self._escape())
        if ch == ".":
            return Chars(ANY)
        if ch in "*+?{":
            raise PatternError(f"quantifier {ch!r} has nothing to repeat")
        return Chars(ch)

    def _escape(self) -> str:
        if self.pos >= len(self.text):
            raise PatternError("the pattern ends with a backslash")
        ch = self.text[self.pos]
        self.pos += 1
        classes = {"d": DIGITS, "w": WORD, "s": " "}
        if ch in classes:
            return classes[ch]
        if ch.isalnum():
            raise PatternError(f"escape \\{ch} is not supported")
        return ch

    def _char_class(self) -> str:
        if self._peek() == "^":
            raise PatternError("negated character classes are not supported")
        chars: list[str] = []
        while True:
            ch = self._peek()
            if ch is None:
                raise PatternError("a character class is not closed")
            self.pos += 1
            if ch == "]" and chars:
                break
            if ch == "\\":
                chars.extend(self._escape())
                continue
            if (
                self._peek() == "-"
                and self.pos + 1 < len(self.text)
                and self.text[self.pos + 1] != "]"
            ):
                end = self.text[self.pos + 1]
                self.pos += 2
                if ord(end) < ord(ch):
                    raise PatternError(f"range {ch}-{end} is backwards")
                chars.extend(chr(c) for c in range(ord(ch), ord(end) + 1))
            else:
                chars.append(ch)
        return "".join(dict.fromkeys(chars))

    def _quantified(self, node: Node) -> Node:
        ch = self._peek()
        if ch == "?":
            self.pos += 1
            return Repeat(node, 0, 1)
        if ch == "*":
            self.pos += 1
            return Repeat(node, 0, OPEN_REPEAT)
        if ch == "+":
            self.pos += 1
            return Repeat(node, 1, OPEN_REPEAT)
        if ch == "{":
            end = self.text.find("}", self.pos)
            if end < 0:
                raise PatternError("a {n,m} quantifier is not closed")
            body = self.text[self.pos + 1 : end]
            self.pos = end + 1
            try:
                if "," in body:
                    lo_s, hi_s = body.split(",", 1)
                    lo = int(lo_s or 0)
                    hi = int(hi_s) if hi_s.strip() else lo + OPEN_REPEAT
                else:
                    lo = hi = int(body)
            except ValueError as exc:
                raise PatternError(f"bad quantifier {{{body}}}") from exc
            if lo > hi or hi > 256:
                raise PatternError(f"quantifier {{{body}}} must have min <= max <= 256")
            if lo == hi == 1:
                return node
            return Repeat(node, lo, hi)
        return node


MAX_COST = 4096


def cost(node: Node, *, coded: bool) -> int:
    """How many Arrow arrays generating the pattern builds (coded: the unique-value path,
    where every repetition count is its own alternative)."""
    if isinstance(node, Chars):
        return 1
    if isinstance(node, Seq | Alt):
        parts = node.parts if isinstance(node, Seq) else node.options
        return sum(cost(part, coded=coded) for part in parts)
    inner = cost(node.node, coded=coded)
    if coded:
        return sum(count * inner for count in range(node.lo, node.hi + 1))
    return node.hi * inner


def parse(text: str) -> Node:
    """Parse a pattern; PatternError says what is not supported."""
    if not text:
        raise PatternError("the pattern is empty")
    return _Parser(text).parse()


def _join(arrays: list[pa.Array], n: int) -> pa.Array:
    if not arrays:
        return pa.array([""] * n, pa.string())
    if len(arrays) == 1:
        return arrays[0]
    return pc.binary_join_element_wise(*arrays, "")


def generate(node: Node, rng: np.random.Generator, n: int) -> pa.Array:
    """n random strings matching the pattern."""
    if isinstance(node, Chars):
        if len(node.alphabet) == 1:
            return pa.array([node.alphabet] * n, pa.string())
        table = pa.array(list(node.alphabet), pa.string())
        return table.take(pa.array(rng.integers(0, len(node.alphabet), n)))
    if isinstance(node, Seq):
        return _join([generate(part, rng, n) for part in node.parts], n)
    if isinstance(node, Alt):
        which = pa.array(rng.integers(0, len(node.options), n).astype(np.int8))
        return pc.choose(which, *[generate(opt, rng, n) for opt in node.options])
    counts = rng.integers(node.lo, node.hi + 1, n)
    pieces = []
    for position in range(node.hi):
        piece = generate(node.node, rng, n)
        if position >= node.lo:
            piece = pc.if_else(pa.array(counts > position), piece, "")
        pieces.append(piece)
    return _join(pieces, n)


def from_codes(node: Node, codes: np.ndarray) -> pa.Array:
    """The strings whose indices in the pattern's value space are codes (distinct codes give
    distinct strings, which is how unique pattern fields are built)."""
    n = len(codes)
    if isinstance(node, Repeat):
        node = node.as_alt()
    if isinstance(node, Chars):
        table = pa.array(list(node.alphabet), pa.string())
        return table.take(pa.array(codes % np.uint64(len(node.alphabet))))
    if isinstance(node, Seq):
        pieces = []
        rest = codes.copy()
        for part in node.parts:
            cap = part.capacity()
            if cap >= 2**64:
                pieces.append(from_codes(part, rest))
                rest = np.zeros_like(rest)
            else:
                pieces.append(from_codes(part, rest % np.uint64(cap)))
                rest = rest // np.uint64(cap)
        return _join(pieces, n)
    caps = [min(opt.capacity(), 2**64) for opt in node.options]
    bounds = np.array(np.cumsum([0, *caps], dtype=object)[1:], dtype=object)
    which = np.zeros(n, dtype=np.int64)
    starts = np.zeros(n, dtype=np.uint64)
    for i in range(len(caps) - 1):
        if bounds[i] >= 2**64:
            break
        beyond = codes >= np.uint64(bounds[i])
        which[beyond] = i + 1
        starts[beyond] = np.uint64(bounds[i])
    local = codes - starts
    outputs = [from_codes(opt, local) for opt in node.options]
    return pc.choose(pa.array(which.astype(np.int16)), *outputs)
