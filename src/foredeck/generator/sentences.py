"""Readable free text without an LLM: sentences and titles composed from small templates.

A run of random dictionary words reads as noise; a handful of sentence shapes filled from
word banks reads as something a person wrote, and is still built column-wise (one Arrow
`take` per slot), so text columns keep numpy speed and the same seed gives the same text.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# fmt: off
BANKS: dict[str, tuple[str, ...]] = {
    "adj": (
        "great", "solid", "reliable", "simple", "friendly", "quick", "careful", "clean",
        "sturdy", "comfortable", "modern", "quiet", "bright", "compact", "practical", "smooth",
        "helpful", "slow", "noisy", "fragile", "expensive", "generous", "pleasant", "decent",
        "excellent", "disappointing", "useful", "elegant", "light", "warm",
    ),
    "noun": (
        "delivery", "service", "product", "order", "team", "support", "package", "room",
        "price", "quality", "design", "experience", "staff", "update", "response", "app",
        "location", "battery", "screen", "material", "process", "instructions", "booking",
        "meeting", "report", "schedule", "invoice", "account", "interface", "feature",
    ),
    "thing": (
        "the box", "the new version", "the second order", "this model", "the last visit",
        "the checkout", "the replacement", "the first week", "the latest release", "the trip",
        "the installation", "the whole process", "the follow-up call", "the weekend",
    ),
    "verb": (
        "arrived", "worked", "started", "ended", "improved", "failed", "changed", "stopped",
        "helped", "appeared", "continued", "responded", "performed", "held up",
    ),
    "adv": (
        "quickly", "as expected", "without problems", "on time", "a bit late", "really well",
        "better than before", "after a few days", "right away", "every time", "smoothly",
        "as described", "once again", "surprisingly well",
    ),
    "person": (
        "the driver", "the agent", "my colleague", "the manager", "our team", "the host",
        "the technician", "the doctor", "the seller", "the instructor", "a customer",
        "the reviewer", "my family", "the receptionist",
    ),
    "want": (
        "would recommend it", "will order again", "expected more", "would like a refund",
        "need a little more time", "am happy with it", "would change one thing",
        "hope this gets fixed", "will come back", "have no complaints",
    ),
    "title_noun": (
        "River", "Garden", "Journey", "Signal", "Harbour", "Window", "Forest", "Machine",
        "Letter", "Promise", "Horizon", "Kitchen", "Lantern", "Station", "Summer", "Winter",
        "Mountain", "Engine", "Bridge", "Voice", "Island", "Shadow", "Market", "Road",
    ),
    "title_adj": (
        "Silent", "Hidden", "Last", "Golden", "Quiet", "Broken", "Northern", "Little",
        "Lost", "Bright", "Second", "Open", "Wild", "Simple", "Distant", "Red", "Modern",
        "Early", "Endless", "Secret",
    ),
}
# fmt: on

SENTENCES: tuple[str, ...] = (
    "The {noun} was {adj} and {verb} {adv}.",
    "{Person} {verb} {adv}, and the {noun} was {adj}.",
    "I {want} because the {noun} is {adj}.",
    "Overall a {adj} {noun}; {thing} {verb} {adv}.",
    "{Thing} {verb} {adv}, but the {noun} felt {adj}.",
    "Very {adj} {noun}, {person} {verb} {adv}.",
    "The {noun} {verb} {adv} and I {want}.",
    "Not the most {adj} {noun}, but {thing} {verb} {adv}.",
    "We found the {noun} {adj}; {person} {verb} {adv}.",
    "Please check the {noun}: {thing} {verb} {adv}.",
    "{Thing} was {adj}, and the {noun} {verb} {adv}.",
    "A {adj} {noun} overall, and I {want}.",
)
# For columns capped under a full sentence's length (four words at most).
SHORT: tuple[str, ...] = (
    "Very {adj} {noun}.",
    "The {noun} was {adj}.",
    "{Adj} {noun} overall.",
    "A {adj} {noun}.",
)
TITLES: tuple[str, ...] = (
    "The {title_adj} {title_noun}",
    "{title_adj} {title_noun}",
    "The {title_noun} of the {title_noun}",
    "{title_noun} and {title_noun}",
    "A {title_adj} {title_noun}",
    "{title_adj} {title_noun} {title_noun}",
)
_SLOT = re.compile(r"\{(\w+)\}")
WORDS_PER_SENTENCE = 9


@cache
def _bank(name: str) -> pa.Array:
    words = BANKS[name.lower()]
    if name[0].isupper():
        words = tuple(w[0].upper() + w[1:] for w in words)
    return pa.array(words, pa.string())


def _parts(template: str) -> list[str | pa.Array]:
    out: list[str | pa.Array] = []
    pos = 0
    for m in _SLOT.finditer(template):
        if m.start() > pos:
            out.append(template[pos : m.start()])
        out.append(_bank(m.group(1)))
        pos = m.end()
    if pos < len(template):
        out.append(template[pos:])
    return out


def _fill(templates: tuple[str, ...], rng: np.random.Generator, n: int) -> pa.Array:
    """n strings, each one template (drawn per row) with its slots drawn from their banks."""
    filled = []
    for template in templates:
        pieces = []
        for part in _parts(template):
            if isinstance(part, str):
                pieces.append(pa.array([part] * n, pa.string()))
            else:
                pieces.append(part.take(pa.array(rng.integers(0, len(part), n))))
        filled.append(pc.binary_join_element_wise(*pieces, ""))
    which = pa.array(rng.integers(0, len(templates), n).astype(np.int8))
    return pc.choose(which, *filled)


def titles(rng: np.random.Generator, n: int) -> pa.Array:
    """Short title-cased phrases ("The Silent Harbour")."""
    return _fill(TITLES, rng, n)


def paragraphs(rng: np.random.Generator, n: int, lo_words: int, hi_words: int) -> pa.Array:
    """One to a few sentences per row, about lo..hi words; cut to hi words when over."""
    lo_s = max(1, -(-lo_words // WORDS_PER_SENTENCE))
    hi_s = max(lo_s, hi_words // WORDS_PER_SENTENCE)
    counts = rng.integers(lo_s, hi_s, n, endpoint=True)
    templates = SENTENCES if hi_words >= 2 * WORDS_PER_SENTENCE // 3 else SHORT
    pieces = []
    for position in range(hi_s):
        piece = _fill(templates, rng, n)
        if position >= lo_s:
            piece = pc.if_else(pa.array(counts > position), piece, pa.scalar(None, pa.string()))
        pieces.append(piece)
    text = pc.binary_join_element_wise(*pieces, " ", null_handling="skip")
    return _cap_words(text, hi_words)


def _cap_words(text: pa.Array, hi: int) -> pa.Array:
    words = pc.utf8_split_whitespace(text)
    over = pc.greater(pc.list_value_length(words), hi)
    if not pc.any(over).as_py():
        return text
    cut = pc.binary_join(pc.list_slice(words, 0, hi), " ")
    cut = pc.binary_join_element_wise(pc.utf8_rtrim(cut, characters=",;:."), ".", "")
    return pc.if_else(over, cut, text)
