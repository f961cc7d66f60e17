"""The offline rule extractor on the kinds of sentences users write."""

from __future__ import annotations

from typing import Any

import pytest

from foredeck.generator.rules import extract
from foredeck.generator.schemas import DatasetSchema
from foredeck.generator.validate import Limits, check


def fields(description: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]], list[str]]:
    result = extract(description)
    return result.schema, {f["name"]: f for f in result.schema["fields"]}, result.uninterpreted


def test_counts_entities_and_ranges() -> None:
    schema, got, left = fields(
        "Generate 2.5k orders: unique order id, customer name, amount between 5 and 500, "
        "status (pending, shipped, delivered), created at, is gift, notes (20% null)"
    )
    assert schema["rows"] == 2500 and schema["name"] == "orders" and left == []
    assert got["order_id"] == {"name": "order_id", "type": "uuid", "unique": True}
    assert got["amount"]["type"] == "decimal" and (got["amount"]["min"], got["amount"]["max"]) == (
        5,
        500,
    )
    assert got["status"]["choices"] == ["pending", "shipped", "delivered"]
    assert got["created_at"]["type"] == "datetime"
    assert got["is_gift"]["type"] == "boolean"
    assert got["notes"]["null_ratio"] == 0.2


def test_choices_dates_and_patterns() -> None:
    _, got, left = fields(
        "employees with first name, department: sales/engineering/support, "
        "hired between 2015 and 2024, badge like EMP-\\d{5}, remote (yes or no), "
        "score between 0.5 and 9.5, in stock"
    )
    assert left == []
    assert got["department"]["choices"] == ["sales", "engineering", "support"]
    assert (got["hired"]["min"], got["hired"]["max"]) == ("2015-01-01", "2024-12-31")
    assert got["badge"] == {"name": "badge", "type": "pattern", "pattern": "EMP-\\d{5}"}
    assert got["remote"]["choices"] == ["yes", "no"]
    assert got["score"]["type"] == "float"
    assert got["in_stock"]["type"] == "boolean"


@pytest.mark.parametrize(
    "description",
    [
        "1000 customers with name, email, age between 18 and 90, country from US/DE/FR",
        "50 users: first name, last name, email, phone, address, city, company, job title",
        "1m events with uuid, timestamp, url, rating, latitude, longitude",
    ],
)
def test_extracted_schemas_validate(description: str) -> None:
    result = extract(description)
    assert result.uninterpreted == []
    schema = DatasetSchema.model_validate(result.schema)
    assert [i for i in check(schema, Limits()) if i.severity == "error"] == []


def test_unreadable_parts_are_listed() -> None:
    _, got, left = fields("10 things with name, a flux capacitor and warp factor")
    assert list(got) == ["name"]
    assert left == ["a flux capacitor", "warp factor"]
