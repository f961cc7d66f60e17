"""The offline extractor on the ways people describe data: every constraint form, the
vocabulary of common fields, sentence and list styles, and the never-drop rule."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from foredeck.generator.engine import generate_chunk
from foredeck.generator.rules import extract
from foredeck.generator.schemas import DatasetSchema
from foredeck.generator.validate import Limits, check

TODAY = date(2026, 5, 17)


def fields(description: str) -> dict[str, dict[str, Any]]:
    result = extract(description, today=TODAY)
    assert len(result.notes) == len(result.schema["fields"])
    return {f["name"]: f for f in result.schema["fields"]}


def one(phrase: str) -> dict[str, Any]:
    got = fields(f"things with {phrase}")
    assert len(got) == 1, got
    return next(iter(got.values()))


def rows(description: str, n: int = 300) -> dict[str, list[Any]]:
    result = extract(description, today=TODAY)
    schema = DatasetSchema.model_validate({**result.schema, "rows": n, "seed": 5})
    assert [i for i in check(schema, Limits()) if i.severity == "error"] == []
    return generate_chunk(schema, 0).to_pydict()


@pytest.mark.parametrize(
    ("phrase", "name", "kind", "lo", "hi"),
    [
        ("price between 10 and 90 euros", "price", "decimal", 10, 90),
        ("salary from 40,000 to 150,000 usd", "salary", "decimal", 40000, 150000),
        ("rooms 1-6", "rooms", "integer", 1, 6),
        ("humidity 20..95 %", "humidity", "float", 20, 95),
        ("temperature from -10 to 35 celsius", "temperature", "float", -10, 35),
        ("weight 0.5 to 70 kg", "weight", "float", 0.5, 70),
        ("battery level up to 100", "battery_level", "integer", 0, 100),
        ("stock at least 5", "stock", "integer", 5, 500),
        ("mileage under 250000 km", "mileage", "integer", 0, 249999),
        ("price in euros between 1000 and 80000", "price", "decimal", 1000, 80000),
        ("warp factor between 1 and 9", "warp_factor", "integer", 1, 9),
    ],
)
def test_number_ranges_keep_the_name_clean(
    phrase: str, name: str, kind: str, lo: float, hi: float
) -> None:
    spec = one(phrase)
    assert (spec["name"], spec["type"], spec["min"], spec["max"]) == (name, kind, lo, hi)


@pytest.mark.parametrize(
    ("phrase", "name"),
    [
        ("age", "age"),
        ("published year from 1950 to 2024", "published_year"),
        ("login count between 0 and 500", "login_count"),
        ("bedrooms", "bedrooms"),
        ("pages between 90 and 900", "pages"),
        ("rating 1-5", "rating"),
        ("stars", "stars"),
        ("number of guests", "number_of_guests"),
    ],
)
def test_whole_number_hints(phrase: str, name: str) -> None:
    spec = one(phrase)
    assert (spec["name"], spec["type"]) == (name, "integer")


@pytest.mark.parametrize(
    ("phrase", "name", "kind", "lo", "hi"),
    [
        ("pickup date in 2023", "pickup_date", "date", "2023-01-01", "2023-12-31"),
        ("shipped on in March 2025", "shipped_on", "date", "2025-03-01", "2025-03-31"),
        ("hired after 2015", "hired", "date", "2016-01-01", "2026-05-17"),
        ("start date before 2020-06-01", "start_date", "date", "2000-06-05", "2020-05-31"),
        (
            "booked on between 2023-01-01 and 2023-06-30",
            "booked_on",
            "date",
            "2023-01-01",
            "2023-06-30",
        ),
        ("last visit last year", "last_visit", "date", "2025-01-01", "2025-12-31"),
        (
            "created at in May 2025",
            "created_at",
            "datetime",
            "2025-05-01T00:00:00Z",
            "2025-05-31T23:59:59Z",
        ),
        ("year between 2005 and 2023", "year", "integer", 2005, 2023),
        ("model year after 2015", "model_year", "integer", 2016, 2026),
    ],
)
def test_dates_and_timestamps(phrase: str, name: str, kind: str, lo: Any, hi: Any) -> None:
    spec = one(phrase)
    assert (spec["name"], spec["type"], spec["min"], spec["max"]) == (name, kind, lo, hi)


CHOICES = [
    ("plan one of free, pro, enterprise", "plan", ["free", "pro", "enterprise"]),
    ("room type (single, double, suite)", "room_type", ["single", "double", "suite"]),
    ("vehicle class compact/suv/van", "vehicle_class", ["compact", "suv", "van"]),
    ("priority low or medium or high", "priority", ["low", "medium", "high"]),
    ("country from US/DE/FR", "country", ["US", "DE", "FR"]),
    ("status code 200/404/500", "status_code", [200, 404, 500]),
    (":\n- shipping: standard, express, next day", "shipping", ["standard", "express", "next day"]),
    ("pay method that is card, cash or paypal, and name", "pay_method", ["card", "cash", "paypal"]),
    ("blood type (A+, A-, O+)", "blood_type", ["A+", "A-", "O+"]),
]


@pytest.mark.parametrize(("description", "name", "choices"), CHOICES)
def test_choices(description: str, name: str, choices: list[Any]) -> None:
    got = fields("things with " + description if description[0] != ":" else "things" + description)
    assert got[name]["type"] == "choice" and got[name]["choices"] == choices


@pytest.mark.parametrize(
    ("phrase", "name"),
    [
        ("returned late yes/no", "returned_late"),
        ("renewed true/false", "renewed"),
        ("remote worker (boolean)", "remote_worker"),
        ("vip (true or false)", "vip"),
        ("cancelled yes or no", "cancelled"),
        ("is admin", "is_admin"),
        ("has garden", "has_garden"),
        ("gift wrap flag", "gift_wrap"),
        ("in stock", "in_stock"),
    ],
)
def test_booleans(phrase: str, name: str) -> None:
    spec = one(phrase)
    assert (spec["name"], spec["type"]) == (name, "boolean")


def test_the_rows_own_id_and_number_are_unique_others_are_not() -> None:
    got = fields(
        "app events with event id, user id, unique session token, booking number, event number"
    )
    assert got["event_id"] == {"name": "event_id", "type": "uuid", "unique": True}
    assert "unique" not in got["user_id"]
    assert got["session_token"]["unique"] is True
    assert got["booking_number"]["type"] == "pattern" and "unique" not in got["booking_number"]
    assert got["event_number"]["unique"] is True


@pytest.mark.parametrize(
    ("phrase", "kind"),
    [
        ("sku", "pattern"),
        ("isbn", "pattern"),
        ("iban", "pattern"),
        ("password hash", "pattern"),
        ("username", "username"),
        ("ip address", "ip_address"),
        ("website", "url"),
        ("user agent", "user_agent"),
        ("departure airport", "airport"),
        ("origin city", "city"),
        ("destination country", "country"),
        ("currency code", "currency"),
        ("colour", "color"),
        ("company name", "company"),
        ("make", "car_make"),
        ("vehicle model", "car_model"),
        ("phone number", "phone"),
        ("shipping address", "address"),
        ("latitude", "float"),
        ("longitude", "float"),
        ("zip code", "postal_code"),
        ("author", "name"),
        ("subject", "title"),
        ("customer review comment", "text"),
        ("departure time", "datetime"),
    ],
)
def test_vocabulary(phrase: str, kind: str) -> None:
    assert one(phrase)["type"] == kind


def test_sentence_style_and_bullets() -> None:
    result = extract(
        "Generate 300 hotel bookings. Each booking has a guest name, a check-in date in "
        "July 2024 and a note.",
        today=TODAY,
    )
    assert result.schema["rows"] == 300 and result.schema["name"] == "hotel_bookings"
    assert [f["name"] for f in result.schema["fields"]] == ["guest_name", "check_in_date", "note"]
    bullets = fields("products\n- sku\n- price 2-250 EUR\n* colour red/green\n1. weight")
    assert list(bullets) == ["sku", "price", "colour", "weight"]
    assert bullets["colour"]["choices"] == ["red", "green"]


def test_counts_and_entity() -> None:
    for text, n, name in [
        ("2.5k orders: id, total", 2500, "orders"),
        ("I need 1000 web server log lines: timestamp, path", 1000, "web_server_log"),
        ("A dataset of 750 job applications with email, status", 750, "job_applications"),
    ]:
        schema = extract(text, today=TODAY).schema
        assert (schema["rows"], schema["name"]) == (n, name)


def test_nothing_is_dropped_and_unknown_phrases_are_noted() -> None:
    result = extract("10 things with name, a flux capacitor and warp drive hum", today=TODAY)
    names = [f["name"] for f in result.schema["fields"]]
    assert names == ["name", "flux_capacitor", "warp_drive_hum"]
    assert result.schema["fields"][1]["type"] == "text"
    assert result.uninterpreted == ["a flux capacitor", "warp drive hum"]
    levels = [(n.field, n.level) for n in result.notes]
    assert levels == [
        ("name", "info"),
        ("flux_capacitor", "warning"),
        ("warp_drive_hum", "warning"),
    ]
    assert "not understood" in result.notes[1].message


def test_notes_say_what_was_read_and_what_was_left_out_of_the_name() -> None:
    result = extract("rentals with price between 10 and 90 euros per day", today=TODAY)
    note = result.notes[0]
    assert note.field == "price" and note.phrase == "price between 10 and 90 euros per day"
    assert "decimal 10 to 90" in note.message and "'euros per day'" in note.message


def test_the_issue_example_on_generated_rows() -> None:
    data = rows(
        "rentals with rental id, price between 10 and 90 euros, pickup date in 2023, vehicle "
        "class compact/suv/van, driver licence number, returned late yes/no, customer review "
        "comment"
    )
    assert list(data) == [
        "rental_id",
        "price",
        "pickup_date",
        "vehicle_class",
        "driver_licence_number",
        "returned_late",
        "customer_review_comment",
    ]
    assert len(set(data["rental_id"])) == 300
    assert all(10 <= float(v) <= 90 for v in data["price"])
    assert {d.year for d in data["pickup_date"]} == {2023}
    assert set(data["vehicle_class"]) == {"compact", "suv", "van"}
    assert all(isinstance(v, str) and v.startswith("LIC-") for v in data["driver_licence_number"])
    assert set(data["returned_late"]) == {True, False}
    assert all(v[0].isupper() and v.endswith(".") for v in data["customer_review_comment"])


def test_text_reads_as_sentences_and_follows_the_seed() -> None:
    spec = {"fields": [{"name": "review", "type": "text"}, {"name": "title", "type": "title"}]}
    a = generate_chunk(DatasetSchema.model_validate({**spec, "rows": 50, "seed": 1}), 0)
    b = generate_chunk(DatasetSchema.model_validate({**spec, "rows": 50, "seed": 1}), 0)
    c = generate_chunk(DatasetSchema.model_validate({**spec, "rows": 50, "seed": 2}), 0)
    assert a.equals(b) and not a.equals(c)
    for text in a["review"].to_pylist():
        sentences = [s for s in text.split(". ") if s]
        assert text.endswith(".") and all(s[0].isupper() for s in sentences)
        # Sentences have a verb from the templates, unlike a run of random words.
        assert len(text.split()) >= 4
    for title in a["title"].to_pylist():
        assert 2 <= len(title.split()) <= 5
        assert all(w[0].isupper() or w in ("of", "the", "and") for w in title.split())


def test_text_word_caps_hold() -> None:
    spec = {"fields": [{"name": "t", "type": "text", "min_length": 2, "max_length": 5}]}
    table = generate_chunk(DatasetSchema.model_validate({**spec, "rows": 200, "seed": 3}), 0)
    assert all(2 <= len(v.split()) <= 5 for v in table["t"].to_pylist())


@pytest.mark.parametrize(
    "description",
    [
        "1000 customers with name, email, age between 18 and 90, country from US/DE/FR",
        "50 users: first name, last name, email, phone, address, city, company, job title",
        "1m events with uuid, timestamp, url, rating, latitude, longitude",
        "flights with flight number, carrier, origin airport, departure time in 2024, "
        "seats available up to 300, cancelled yes or no",
    ],
)
def test_extracted_schemas_validate(description: str) -> None:
    result = extract(description, today=TODAY)
    assert result.uninterpreted == []
    schema = DatasetSchema.model_validate(result.schema)
    assert [i for i in check(schema, Limits()) if i.severity == "error"] == []


def test_added_afterthoughts_keep_plain_names() -> None:
    got = fields("orders with id and total. Also add a status column; include an email field")
    assert [(name, spec["type"]) for name, spec in got.items()] == [
        ("id", "uuid"),
        ("total", "decimal"),
        ("status", "choice"),
        ("email", "email"),
    ]
