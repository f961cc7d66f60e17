"""The Datasets page's schema form: fields per column, the API's validation next to each field,
what was typed kept, columns added and removed with or without JavaScript."""

from __future__ import annotations

import html
import re
from contextlib import aclosing
from typing import Any

import httpx
from fastapi import FastAPI

from foredeck.console.pages import schema_form
from foredeck.generator.schemas import FieldSpec
from tests.console.helpers import HTMX, console_client

DESCRIPTION = "50 customers with name, email, age between 18 and 90"


def _value(page: str, input_id: str) -> str:
    found = re.search(rf'id="{input_id}" name="[^"]+" value="([^"]*)"', page)
    assert found, f"no input {input_id}"
    return html.unescape(found.group(1))


def _error(page: str, input_id: str) -> str:
    found = re.search(rf'<p class="field-(?:error|warning)" id="err-{input_id}">([^<]*)</p>', page)
    assert found, f"no issue next to {input_id}"
    return html.unescape(found.group(1))


def _form(page: str) -> dict[str, Any]:
    """The schema form's fields as a browser would send them (checkboxes only when checked)."""
    start = page.index('id="schema-form"')
    part = page[start : page.index("</form>", start)]
    data: dict[str, Any] = {}
    for name, value in re.findall(
        r'<input (?:type="hidden" )?(?:id="[^"]+" )?name="([^"]+)" value="([^"]*)"', part
    ):
        data[name] = html.unescape(value)
    for select in re.finditer(r'<select id="[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', part):
        chosen = re.search(r"<option selected>([^<]*)</option>", select.group(2))
        data[select.group(1)] = html.unescape(chosen.group(1) if chosen else "")
    for name, text in re.findall(
        r'<textarea id="[^"]+" name="([^"]+)"[^>]*>([^<]*)</textarea>', part
    ):
        data[name] = html.unescape(text)
    for name in re.findall(r'<input type="checkbox" id="[^"]+" name="([^"]+)" checked', part):
        data[name] = "on"
    return data


async def _extracted(client: httpx.AsyncClient, csrf: str) -> str:
    resp = await client.post(
        "/ui/datasets/extract",
        data={"description": DESCRIPTION},
        headers={**HTMX, "X-CSRF-Token": csrf},
    )
    assert resp.status_code == 200, resp.text
    return resp.text


async def _post(
    client: httpx.AsyncClient, csrf: str, form: dict[str, Any], **changes: str
) -> httpx.Response:
    """Send the schema form with some fields changed (`intent` among them), as htmx does."""
    return await client.post(
        "/ui/datasets/schema",
        data={**form, **changes},
        headers={**HTMX, "X-CSRF-Token": csrf},
    )


def test_the_form_covers_every_column_attribute() -> None:
    covered = {"name", "type"} | {spec.name for spec in schema_form.column_inputs()}
    assert covered == set(FieldSpec.model_fields)


async def test_extracted_schema_is_a_form_of_columns(app: FastAPI) -> None:
    client, csrf = await console_client(app, "operator")
    async with aclosing(client):
        page = await _extracted(client, csrf)
        assert page.lstrip().startswith('<section id="dataset-work"')
        names = [_value(page, f"ds-col-{i}-name") for i in range(3)]
        assert names == ["name", "email", "age"]
        assert re.search(r'id="ds-col-2-type"[^>]*>.*<option selected>integer</option>', page)
        assert _value(page, "ds-col-2-min") == "18" and _value(page, "ds-col-2-max") == "90"
        # Constraints of other types are not offered (a name column has no min).
        assert 'id="ds-col-0-min"' not in page
        assert _value(page, "ds-schema-rows") == "50"
        valid = await _post(client, csrf, _form(page), intent="validate")
        assert valid.status_code == 200, valid.text
        assert "The schema is valid" in valid.headers["HX-Trigger"]


async def test_a_bad_column_shows_the_error_next_to_it_and_keeps_the_input(app: FastAPI) -> None:
    client, csrf = await console_client(app, "operator")
    async with aclosing(client):
        form = _form(await _extracted(client, csrf))
        resp = await _post(
            client, csrf, form, intent="validate", rows="lots", **{"col-1-name": "1 bad"}
        )
        assert resp.status_code == 422
        assert "see the fields" in resp.headers["HX-Trigger"]
        assert "should match pattern" in _error(resp.text, "ds-col-1-name")
        assert _value(resp.text, "ds-col-1-name") == "1 bad"
        assert re.search(r'id="ds-col-1-name"[^>]*aria-invalid="true"', resp.text)
        assert "valid integer" in _error(resp.text, "ds-schema-rows")
        assert _value(resp.text, "ds-schema-rows") == "lots"
        # The other columns are untouched and carry no issue.
        assert _value(resp.text, "ds-col-0-name") == "name"
        assert 'id="err-ds-col-0-name"' not in resp.text

        # A column that parses but cannot be generated: the issue sits on that column.
        form = _form(await _extracted(client, csrf))
        resp = await _post(
            client, csrf, form, intent="generate", **{"col-2-min": "90", "col-2-max": "18"}
        )
        assert resp.status_code == 422 and "HX-Redirect" not in resp.headers
        assert "min" in _error(resp.text, "ds-col-2")
        assert _value(resp.text, "ds-col-2-min") == "90"


async def test_add_and_remove_columns_with_and_without_javascript(app: FastAPI) -> None:
    client, csrf = await console_client(app, "operator")
    async with aclosing(client):
        form = _form(await _extracted(client, csrf))
        added = await _post(client, csrf, form, intent="add")
        assert added.status_code == 200
        assert re.search(r'id="ds-col-3-name" name="col-3-name" value="" autofocus', added.text)
        changes = {"col-3-name": "tier", "col-3-type": "choice"}
        retyped = await _post(client, csrf, _form(added.text), intent="retype", **changes)
        assert (
            'id="ds-col-3-choices"' in retyped.text
            and _value(retyped.text, "ds-col-3-name") == "tier"
        )
        changes = {"col-3-choices": "gold\nsilver\n7"}
        checked = await _post(client, csrf, _form(retyped.text), intent="validate", **changes)
        assert checked.status_code == 200, _form(checked.text)
        assert "gold\nsilver\n7</textarea>" in checked.text
        # Without JavaScript: a plain form post answers with the whole page.
        plain = await client.post(
            "/ui/datasets/schema",
            data={**_form(checked.text), "intent": "remove-0", "csrf_token": csrf},
        )
        assert plain.status_code == 200 and plain.text.startswith("<!doctype html>")
        assert [_value(plain.text, f"ds-col-{i}-name") for i in range(3)] == [
            "email",
            "age",
            "tier",
        ]
        assert 'id="ds-col-3-name"' not in plain.text


async def test_raw_json_loads_into_the_form(app: FastAPI) -> None:
    client, csrf = await console_client(app, "operator")
    async with aclosing(client):
        form = _form(await _extracted(client, csrf))
        bad = await _post(client, csrf, form, intent="json", schema_json="{nope")
        assert bad.status_code == 422 and "Not valid JSON" in bad.text
        assert "{nope</textarea>" in bad.text and _value(bad.text, "ds-col-0-name") == "name"
        doc = '{"rows": 10, "fields": [{"name": "code", "type": "pattern", "pattern": "[A-Z]{3}"}]}'
        good = await _post(client, csrf, form, intent="json", schema_json=doc)
        assert good.status_code == 200, good.text
        assert _value(good.text, "ds-col-0-name") == "code"
        assert _value(good.text, "ds-col-0-pattern") == "[A-Z]{3}"
        assert 'id="ds-col-1-name"' not in good.text


async def test_a_valid_form_generates_and_viewers_cannot(app: FastAPI) -> None:
    client, csrf = await console_client(app, "operator")
    async with aclosing(client):
        form = _form(await _extracted(client, csrf))
        resp = await _post(client, csrf, form, intent="generate")
        assert resp.status_code == 204, resp.text
        assert re.fullmatch(r"/ui/datasets/[0-9a-f-]{36}", resp.headers["HX-Redirect"])
    viewer, viewer_csrf = await console_client(app, "viewer")
    async with aclosing(viewer):
        page = await viewer.get("/ui/datasets")
        assert 'id="schema-form"' not in page.text and "Extract the schema" not in page.text
        denied = await _post(viewer, viewer_csrf, form, intent="add")
        assert denied.status_code == 403


def _note(page: str, column: int) -> tuple[str, str]:
    found = re.search(
        rf'<p class="(hint|field-warning) extract-note" id="note-ds-col-{column}">(.*?)</p>', page
    )
    assert found, f"no note beside column {column}"
    return found.group(1), html.unescape(re.sub(r"<[^>]+>", "", found.group(2)))


async def test_extraction_notes_sit_beside_their_columns_and_survive_edits(app: FastAPI) -> None:
    client, csrf = await console_client(app, "operator")
    async with aclosing(client):
        resp = await client.post(
            "/ui/datasets/extract",
            data={"description": "rentals with price between 10 and 90 euros, a flux capacitor"},
            headers={**HTMX, "X-CSRF-Token": csrf},
        )
        assert resp.status_code == 200, resp.text
        assert "1 note to check" in resp.headers["HX-Trigger"]
        level, text = _note(resp.text, 0)
        assert level == "hint" and text.startswith("Read as: decimal 10 to 90")
        assert "'euros'" in text and "price between 10 and 90 euros" in text
        level, text = _note(resp.text, 1)
        assert level == "field-warning" and "not understood" in text
        assert _value(resp.text, "ds-col-1-name") == "flux_capacitor"
        # Adding a column re-renders the form: the notes stay beside the same columns.
        added = await _post(client, csrf, _form(resp.text), intent="add")
        assert added.status_code == 200
        assert _note(added.text, 1)[0] == "field-warning"
        assert 'id="note-ds-col-2"' not in added.text
