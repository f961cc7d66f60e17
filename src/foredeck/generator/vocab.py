"""What common field names mean: a name (or its head noun) mapped to a type and realistic
defaults, so "isbn", "carrier" or "departure time" become columns of the right kind."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# How a range written next to the name is read: whole numbers, money (2 decimals), measures.
WHOLE, MONEY, MEASURE, YEAR, DATE, DATETIME = "whole", "money", "measure", "year", "date", "dt"


@dataclass(frozen=True)
class Entry:
    type: str
    extra: dict[str, Any] = field(default_factory=dict)
    hint: str | None = None
    # An identifier of something (ids, numbers, codes): unique when it names the row itself.
    ident: bool = False


def _e(type_: str, hint: str | None = None, ident: bool = False, **extra: Any) -> Entry:
    return Entry(type_, extra, hint, ident)


def _choice(*values: str) -> Entry:
    return Entry("choice", {"choices": list(values)})


def _num(type_: str, lo: float, hi: float, hint: str, **extra: Any) -> Entry:
    return Entry(type_, {"min": lo, "max": hi, **extra}, hint)


def _whole(lo: int, hi: int) -> Entry:
    return _num("integer", lo, hi, WHOLE)


def _money(lo: float, hi: float) -> Entry:
    return _num("decimal", lo, hi, MONEY, precision=2)


def _measure(lo: float, hi: float, precision: int = 1) -> Entry:
    return _num("float", lo, hi, MEASURE, precision=precision)


BOOL = _e("boolean")
TEXT = _e("text")
TITLE = _e("title")
DATE_E = _e("date", DATE)
DATETIME_E = _e("datetime", DATETIME)
HEX64 = _e("pattern", pattern="[0-9a-f]{64}")

FLAG_WORDS = [
    *(
        "active enabled verified subscribed deleted paid available refunded cancelled canceled "
        "delivered returned approved resolved closed online remote insured featured published "
        "automatic express gift discontinued archived blocked premium flag boolean late overdue"
    ).split(),
    "in stock",
    "sea view",
]

VOCAB: dict[str, Entry] = {
    # identity
    "id": _e("uuid", ident=True),
    "uuid": _e("uuid", ident=True),
    "guid": _e("uuid", ident=True),
    "sku": _e("pattern", ident=True, pattern="SKU-[A-Z0-9]{8}"),
    "isbn": _e("pattern", ident=True, pattern="978-\\d-\\d{4}-\\d{4}-\\d"),
    "iban": _e("pattern", pattern="[A-Z]{2}\\d{2}[A-Z0-9]{4}\\d{12}"),
    "mac address": _e("pattern", pattern="([0-9a-f]{2}:){5}[0-9a-f]{2}"),
    "serial number": _e("pattern", ident=True, pattern="SN-[A-Z0-9]{10}"),
    "tracking number": _e("pattern", ident=True, pattern="1Z[A-Z0-9]{16}"),
    "flight number": _e("pattern", ident=True, pattern="[A-Z]{2}\\d{3,4}"),
    "plate number": _e("pattern", ident=True, pattern="[A-Z]{2}-[A-Z]{2}-\\d{3,4}"),
    "licence plate": _e("pattern", ident=True, pattern="[A-Z]{2}-[A-Z]{2}-\\d{3,4}"),
    "license plate": _e("pattern", ident=True, pattern="[A-Z]{2}-[A-Z]{2}-\\d{3,4}"),
    "last four digits": _e("pattern", pattern="\\d{4}"),
    "last four": _e("pattern", pattern="\\d{4}"),
    "version": _e("pattern", pattern="\\d\\.\\d{1,2}\\.\\d{1,2}"),
    "password hash": HEX64,
    "password": HEX64,
    "hash": HEX64,
    "token": _e("pattern", pattern="[A-Za-z0-9]{32}"),
    "api key": _e("pattern", pattern="[A-Za-z0-9]{32}"),
    "ticker": _e("pattern", pattern="[A-Z]{3,4}"),
    "tags": _choice("new", "sale", "popular", "limited", "eco", "gift"),
    # people
    "name": _e("name"),
    "full name": _e("name"),
    "first name": _e("first_name"),
    "firstname": _e("first_name"),
    "given name": _e("first_name"),
    "last name": _e("last_name"),
    "lastname": _e("last_name"),
    "surname": _e("last_name"),
    "family name": _e("last_name"),
    "author": _e("name"),
    "writer": _e("name"),
    "director": _e("name"),
    "instructor": _e("name"),
    "teacher": _e("name"),
    "organizer": _e("name"),
    "agent": _e("name"),
    "owner": _e("name"),
    "driver": _e("name"),
    "username": _e("username"),
    "user name": _e("username"),
    "login": _e("username"),
    "handle": _e("username"),
    "email": _e("email"),
    "email address": _e("email"),
    "e-mail": _e("email"),
    "phone": _e("phone"),
    "phone number": _e("phone"),
    "telephone": _e("phone"),
    "mobile": _e("phone"),
    "gender": _choice("female", "male", "non-binary"),
    "blood type": _choice("A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"),
    "job title": _e("job_title"),
    "occupation": _e("job_title"),
    "position": _e("job_title"),
    "job": _e("job_title"),
    "department": _choice("sales", "engineering", "marketing", "support", "finance", "hr"),
    # places
    "address": _e("address"),
    "street address": _e("address"),
    "city": _e("city"),
    "town": _e("city"),
    "country": _e("country"),
    "country code": _e("country_code"),
    "state": _e("state"),
    "zip": _e("postal_code"),
    "zip code": _e("postal_code"),
    "postal code": _e("postal_code"),
    "postcode": _e("postal_code"),
    "latitude": _measure(-90, 90, 6),
    "lat": _measure(-90, 90, 6),
    "longitude": _measure(-180, 180, 6),
    "lng": _measure(-180, 180, 6),
    "lon": _measure(-180, 180, 6),
    "long": _measure(-180, 180, 6),
    "airport": _e("airport"),
    "airport code": _e("airport"),
    "iata code": _e("airport"),
    "iata": _e("airport"),
    # organisations, things
    "company": _e("company"),
    "company name": _e("company"),
    "employer": _e("company"),
    "manufacturer": _e("company"),
    "brand": _e("company"),
    "merchant": _e("company"),
    "vendor": _e("company"),
    "supplier": _e("company"),
    "airline": _choice("Lufthansa", "Delta", "Air France", "KLM", "United", "Emirates"),
    "carrier": _choice("DHL", "UPS", "FedEx", "USPS", "DPD"),
    "make": _e("car_make"),
    "car make": _e("car_make"),
    "model": _e("car_model"),
    "car model": _e("car_model"),
    "colour": _e("color"),
    "color": _e("color"),
    "currency": _e("currency"),
    "currency code": _e("currency"),
    "genre": _choice("fiction", "mystery", "fantasy", "romance", "biography", "history"),
    "category": _choice("electronics", "home", "clothing", "books", "toys", "sports"),
    "language": _choice("English", "German", "French", "Spanish", "Italian"),
    "priority": _choice("low", "medium", "high"),
    "severity": _choice("low", "medium", "high", "critical"),
    "status": _choice("active", "inactive", "pending"),
    "payment method": _choice("card", "cash", "paypal", "bank transfer"),
    "device": _choice("desktop", "mobile", "tablet"),
    "browser": _choice("Chrome", "Firefox", "Safari", "Edge"),
    "operating system": _choice("Windows", "macOS", "Linux", "Android", "iOS"),
    "os": _choice("Windows", "macOS", "Linux", "Android", "iOS"),
    "http method": _choice("GET", "POST", "PUT", "DELETE"),
    "status code": Entry("choice", {"choices": [200, 201, 301, 400, 401, 403, 404, 500]}),
    "log level": _choice("DEBUG", "INFO", "WARNING", "ERROR"),
    "fuel type": _choice("petrol", "diesel", "electric", "hybrid"),
    "transmission": _choice("manual", "automatic"),
    # web
    "url": _e("url"),
    "website": _e("url"),
    "homepage": _e("url"),
    "link": _e("url"),
    "path": _e("pattern", pattern="/(products|users|orders|search|cart|blog)/\\d{1,5}"),
    "ip": _e("ip_address"),
    "ip address": _e("ip_address"),
    "user agent": _e("user_agent"),
    # numbers
    "age": _whole(18, 90),
    "quantity": _whole(1, 100),
    "qty": _whole(1, 100),
    "count": _whole(0, 1000),
    "number of": _whole(0, 100),
    "rooms": _whole(1, 8),
    "bedrooms": _whole(1, 6),
    "bathrooms": _whole(1, 4),
    "floor": _whole(0, 30),
    "pages": _whole(50, 1200),
    "rating": _whole(1, 5),
    "stars": _whole(1, 5),
    "grade": _whole(1, 12),
    "credits": _whole(1, 10),
    "seats": _whole(1, 300),
    "guests": _whole(1, 8),
    "nights": _whole(1, 14),
    "attendees": _whole(1, 50),
    "employees": _whole(1, 10_000),
    "students": _whole(1, 500),
    "visits": _whole(0, 100),
    "views": _whole(0, 100_000),
    "clicks": _whole(0, 10_000),
    "likes": _whole(0, 10_000),
    "bytes": _whole(100, 1_000_000),
    "volume": _whole(1_000, 10_000_000),
    "stock": _whole(0, 500),
    "mileage": _whole(0, 300_000),
    "odometer": _whole(0, 300_000),
    "duration": _whole(1, 240),
    "runtime": _whole(60, 200),
    "minutes": _whole(1, 240),
    "seconds": _whole(1, 3600),
    "length": _whole(1, 3600),
    "response time": _whole(1, 2000),
    "latency": _whole(1, 2000),
    "experience": _whole(0, 40),
    "year": _whole(1950, 2025),
    "price": _money(1, 1000),
    "cost": _money(1, 1000),
    "amount": _money(1, 10_000),
    "total": _money(1, 10_000),
    "subtotal": _money(1, 10_000),
    "fee": _money(0, 100),
    "fare": _money(3, 150),
    "tip": _money(0, 50),
    "tax": _money(0, 500),
    "rent": _money(300, 3000),
    "revenue": _money(1_000, 1_000_000),
    "salary": _money(20_000, 200_000),
    "balance": _money(0, 100_000),
    "discount": _measure(0, 50),
    "score": _measure(0, 100, 2),
    "gpa": _measure(0, 4, 2),
    "percentage": _measure(0, 100),
    "temperature": _measure(-20, 40),
    "humidity": _measure(0, 100),
    "pressure": _measure(950, 1050),
    "wind speed": _measure(0, 150),
    "speed": _measure(0, 200),
    "precipitation": _measure(0, 100),
    "distance": _measure(0.1, 500),
    "weight": _measure(1, 150),
    "height": _measure(140, 210),
    "area": _measure(20, 500),
    "battery": _whole(0, 100),
    "battery level": _whole(0, 100),
    # dates and times
    "date": DATE_E,
    "day": DATE_E,
    "birthday": _e("date", DATE, min="1940-01-01", max="2007-12-31"),
    "birth date": _e("date", DATE, min="1940-01-01", max="2007-12-31"),
    "date of birth": _e("date", DATE, min="1940-01-01", max="2007-12-31"),
    "dob": _e("date", DATE, min="1940-01-01", max="2007-12-31"),
    "timestamp": DATETIME_E,
    "datetime": DATETIME_E,
    "time": DATETIME_E,
    "at": DATETIME_E,
    "on": DATE_E,
    "hired": DATE_E,
    "joined": DATE_E,
    "born": DATE_E,
    "since": DATE_E,
    "from": DATE_E,
    "until": DATE_E,
    "last login": DATETIME_E,
    "last visit": DATE_E,
    # text
    "description": TEXT,
    "comment": TEXT,
    "comments": TEXT,
    "review": TEXT,
    "review text": TEXT,
    "notes": TEXT,
    "note": TEXT,
    "bio": TEXT,
    "summary": TEXT,
    "feedback": TEXT,
    "message": TEXT,
    "body": TEXT,
    "content": TEXT,
    "text": TEXT,
    "request": TEXT,
    "title": TITLE,
    "subject": TITLE,
    "headline": TITLE,
    "product name": TITLE,
    "item name": TITLE,
    "event name": TITLE,
    "course title": TITLE,
    # yes/no
    **{word: BOOL for word in FLAG_WORDS},
}
_WORDS = {key: tuple(key.split()) for key in VOCAB}
_BY_LENGTH = sorted(VOCAB, key=lambda k: len(_WORDS[k]), reverse=True)
# Too common as plain words to mean anything unless they end the name ("created at").
HEAD_ONLY = {"at", "on", "from", "since", "until", "time", "day", "long", "state", "length"}
FLAG_PREFIX = re.compile(r"^(?:is|has|have|can|was|should|needs?|allows?|uses?|wants?)\s+\w")


def lookup(words: list[str]) -> tuple[str, Entry] | None:
    """The entry for a name: one ending at its last word (the head noun) first, longest
    first; else the longest entry found anywhere in it."""
    lowered = [w.lower() for w in words]
    for key in _BY_LENGTH:
        size = len(_WORDS[key])
        if size <= len(lowered) and tuple(lowered[-size:]) == _WORDS[key]:
            return key, VOCAB[key]
    for key in _BY_LENGTH:
        size = len(_WORDS[key])
        if key in HEAD_ONLY:
            continue
        for start in range(len(lowered) - size + 1):
            if tuple(lowered[start : start + size]) == _WORDS[key]:
                return key, VOCAB[key]
    return None


def is_field(text: str) -> bool:
    """Whether a short phrase names a known field (so it is not read as a listed value)."""
    found = lookup(text.lower().split())
    return found is not None and found[0] not in HEAD_ONLY
