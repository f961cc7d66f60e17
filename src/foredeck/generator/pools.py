"""Value pools drawn once from mimesis, then sampled with numpy indices.

Calling a provider per row is what makes plain Faker/mimesis loops slow; a pool built once per
(kind, locale) and indexed by arrays keeps realism and runs at numpy speed. Pools are built
with a fixed seed and sorted, so the same mimesis version always gives the same datasets.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc
from mimesis import Address, Finance, Internet, Person, Text, Transport
from mimesis.datasets import EMAIL_DOMAINS, TLD
from mimesis.locales import Locale

POOL_DRAWS = 20_000
POOL_SEED = 20_261_123
_lock = threading.Lock()

LOCALES = {loc.value for loc in Locale}

LOREM_WORDS = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut "
    "labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris "
    "nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate velit esse "
    "cillum fugiat nulla pariatur excepteur sint occaecat cupidatat non proident sunt culpa qui "
    "officia deserunt mollit anim id est laborum"
).split()


def _draw(fn: Callable[[], str], draws: int = POOL_DRAWS) -> pa.Array:
    values = sorted({fn() for _ in range(draws)})
    return pa.array(values, pa.string())


def _only(values: pa.Array, pattern: str) -> pa.Array:
    # Some provider data mixes formats (IATA codes with digits are small airfields).
    return values.filter(pc.match_substring_regex(values, f"^{pattern}$"))


def _builders(locale: str) -> dict[str, Callable[[], pa.Array]]:
    loc = Locale(locale)
    person = Person(loc, seed=POOL_SEED)
    address = Address(loc, seed=POOL_SEED)
    finance = Finance(loc, seed=POOL_SEED)
    text = Text(loc, seed=POOL_SEED)
    internet = Internet(seed=POOL_SEED)
    transport = Transport(seed=POOL_SEED)
    return {
        "first_name": lambda: _draw(person.first_name),
        "last_name": lambda: _draw(person.last_name),
        "city": lambda: _draw(address.city),
        "street": lambda: _draw(address.street_name),
        "street_suffix": lambda: _draw(address.street_suffix, 2000),
        "country": lambda: _draw(address.country, 5000),
        "company": lambda: _draw(finance.company, 10_000),
        "job_title": lambda: _draw(person.occupation),
        "word": lambda: _draw(lambda: text.word().lower()),
        "url_word": lambda: _draw(lambda: internet.slug().split("-")[0].lower(), 5000),
        "email_domain": lambda: pa.array(sorted(d.lstrip("@") for d in EMAIL_DOMAINS)),
        "tld": lambda: pa.array(sorted(t.lstrip(".") for t in TLD["utld"])),
        "lorem": lambda: pa.array(LOREM_WORDS),
        "user_agent": lambda: _draw(internet.user_agent, 5000),
        "airport": lambda: _only(_draw(address.iata_code, 5000), r"[A-Z]{3}"),
        "currency": lambda: _draw(lambda: finance.currency_iso_code(allow_random=True), 2000),
        "color": lambda: _draw(text.color, 2000),
        "car_make": lambda: _draw(transport.manufacturer, 2000),
        "car_model": lambda: _draw(transport.car, 5000),
        "country_code": lambda: _draw(address.country_code, 2000),
        "postal_code": lambda: _draw(address.postal_code, 5000),
        "state": lambda: _draw(address.state, 2000),
    }


@cache
def pool(kind: str, locale: str = "en") -> pa.Array:
    """The sorted distinct values of one kind for one locale."""
    with _lock:
        return _builders(locale)[kind]()


def ascii_pool(kind: str, locale: str) -> pa.Array:
    """A pool usable inside emails and URLs: lower-case ASCII letters only."""
    return _ascii_pool(kind, locale)


@cache
def _ascii_pool(kind: str, locale: str) -> pa.Array:
    values = pool(kind, locale).to_pylist()
    cleaned = sorted({"".join(c for c in v.lower() if "a" <= c <= "z") for v in values} - {""})
    if not cleaned:
        # Non-Latin locales: fall back to English names for the address part.
        return _ascii_pool(kind, "en")
    return pa.array(cleaned, pa.string())
