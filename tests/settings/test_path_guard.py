"""Paths the OS would refuse (NUL, too long, a lone surrogate, a directory, a FIFO, a link
loop) and key files whose private_key does not parse: each a 422 naming the field, from
every endpoint that takes a path, and nothing stored."""

from __future__ import annotations

import json
import os
import re
from contextlib import aclosing
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI

from foredeck.db import transaction
from foredeck.kit.paths import MAX_NAME_BYTES, MAX_PATH_BYTES, PathRefused, check_path_text
from foredeck.kit.runtime import runtime_of
from foredeck.models.settings import Setting
from tests.conftest import assert_error, stored_section, unique
from tests.console.helpers import HTMX, console_client
from tests.operations.helpers import import_path, records
from tests.settings.fake_google import make_service_account
from tests.settings.test_settings import creds_dir

CREDS = "/api/v1/settings/credentials"


def hostile_paths(base: Path) -> dict[str, str]:
    """Path -> words its refusal must hold; the directory, FIFO and loop are made in `base`."""
    folder = base / unique("dir")
    folder.mkdir()
    fifo = base / unique("fifo")
    os.mkfifo(fifo)
    loop_a, loop_b = base / unique("loopa"), base / unique("loopb")
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    return {
        "key\x00.json": "NUL",
        "\x00": "NUL",
        "a" * (MAX_NAME_BYTES + 1) + ".json": f"longer than {MAX_NAME_BYTES} bytes",
        "\ud800.json": "string",  # pydantic refuses it first, in its own words
        "   ": "empty",
        folder.name: "directory",
        fifo.name: "regular file",
        loop_a.name: "",
    }


async def send(
    client: httpx.AsyncClient, method: str, url: str, body: dict, headers: dict
) -> httpx.Response:
    """JSON with ASCII escapes, so a lone surrogate reaches the server as JSON allows."""
    return await client.request(
        method,
        url,
        content=json.dumps(body),
        headers={**headers, "Content-Type": "application/json"},
    )


def test_path_text_limits() -> None:
    assert check_path_text("sub/ok.json") == "sub/ok.json"
    with pytest.raises(PathRefused, match="too long"):
        check_path_text("a/" * (MAX_PATH_BYTES // 2 + 1))
    with pytest.raises(PathRefused, match="must be a string"):
        check_path_text(["a"])


async def test_put_credentials_refuses_paths_the_os_would(
    client: httpx.AsyncClient, app: FastAPI, admin: dict, operator: dict
) -> None:
    before = (await client.get("/api/v1/settings/credentials", headers=operator)).json()["data"]
    for path, words in hostile_paths(creds_dir(app)).items():
        resp = await send(client, "PUT", CREDS, {"path": path}, admin)
        err = assert_error(resp, 422)
        assert err["details"][0]["field"] == "path", (path, err)
        assert words in err["details"][0]["message"], (path, err)
        check = await send(client, "POST", f"{CREDS}/validate", {"path": path}, operator)
        assert check.status_code == 200, check.text
        assert check.json()["data"]["valid"] is False
        assert check.json()["data"]["errors"][0]["field"] == "path"
    after = (await client.get("/api/v1/settings/credentials", headers=operator)).json()["data"]
    assert after["checksum"] == before["checksum"]


async def test_generator_key_path_uses_the_same_guard(
    client: httpx.AsyncClient, app: FastAPI, admin: dict
) -> None:
    for path, words in hostile_paths(creds_dir(app)).items():
        body = {"provider": "none", "api_key_path": path}
        resp = await send(client, "PUT", "/api/v1/settings/generator", body, admin)
        err = assert_error(resp, 422)
        assert err["details"][0]["field"] == "api_key_path", (path, err)
        assert words in err["details"][0]["message"], (path, err)


async def test_import_paths_use_the_same_guard(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    base = import_path(app, "x").parent
    coll = unique("pathguard")
    for path, words in hostile_paths(base).items():
        for url in ("/api/v1/operations/import", "/api/v1/operations/import/preview"):
            resp = await send(client, "POST", url, {"path": path, "collection": coll}, operator)
            err = assert_error(resp, 422)
            fields = [d["field"] for d in err["details"]]
            # The preview's body is parsed whole, so pydantic names it, not the field.
            assert "path" in fields or ("\ud800" in path and fields == ["body"]), (url, err)
            assert words in json.dumps(err["details"], ensure_ascii=False), (url, path, err)
    assert await records(client, operator, coll) == []


def write_key(path: Path, private_key: str) -> None:
    make_service_account(path)
    info = json.loads(path.read_text())
    info["private_key"] = private_key
    path.write_text(json.dumps(info))
    os.chmod(path, 0o600)


def bad_keys() -> dict[str, str]:
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    return {
        "garbage": "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
        "not_pem": "just some text",
        "ec_key": ec_pem,
    }


async def test_a_private_key_that_does_not_parse_is_refused(
    client: httpx.AsyncClient, app: FastAPI, admin: dict, operator: dict
) -> None:
    good = f"{unique('good')}.json"
    make_service_account(creds_dir(app) / good)
    ok = await client.put(CREDS, json={"path": good}, headers=admin)
    assert ok.status_code == 200 and ok.json()["data"]["valid"] is True, ok.text

    before = (await client.get("/api/v1/settings/credentials", headers=operator)).json()["data"]
    for label, pem in bad_keys().items():
        name = f"{unique(label)}.json"
        write_key(creds_dir(app) / name, pem)
        resp = await client.put("/api/v1/settings/credentials", json={"path": name}, headers=admin)
        err = assert_error(resp, 422)
        assert err["details"][0]["field"] == "path", (label, err)
        assert "private_key" in err["details"][0]["message"], (label, err)
        assert "bm90IGEga2V5" not in resp.text and "BEGIN" not in resp.text
    after = (await client.get("/api/v1/settings/credentials", headers=operator)).json()["data"]
    assert after["checksum"] == before["checksum"]


async def test_sheets_with_stored_unparsable_key_is_a_422(
    client: httpx.AsyncClient, app: FastAPI, admin: dict, operator: dict
) -> None:
    name = f"{unique('badstored')}.json"
    write_key(creds_dir(app) / name, bad_keys()["garbage"])
    sheets = {
        "api_base_url": "http://127.0.0.1:9",
        "token_url": "http://127.0.0.1:9/token",
        "sheets": [{"name": "main", "spreadsheet_id": "abcdefgh12", "range": "Data"}],
    }
    # Stored behind validation's back, as a key file edited after it was accepted would be.
    async with stored_section(app, "credentials", None):
        async with transaction(runtime_of(app).sessionmaker) as session:
            session.add(Setting(key="credentials", value_json={"path": name}, checksum="x"))
        before = (await client.get("/api/v1/settings/sheets", headers=operator)).json()["data"]
        resp = await client.put("/api/v1/settings/sheets", json=sheets, headers=admin)
        err = assert_error(resp, 422)
        assert err["details"][0]["field"] == "sheets", err
        assert "private_key" in err["details"][0]["message"], err
        check = await client.post("/api/v1/settings/sheets/validate", json=sheets, headers=operator)
        assert check.status_code == 200 and check.json()["data"]["valid"] is False, check.text
        state = await client.get("/api/v1/settings", headers=operator)
        assert state.status_code == 200, state.text
        after = (await client.get("/api/v1/settings/sheets", headers=operator)).json()["data"]
        assert after["checksum"] == before["checksum"]


async def test_console_settings_form_refuses_a_nul_path(app: FastAPI) -> None:
    console, csrf = await console_client(app, "admin")
    async with aclosing(console):
        async with runtime_of(app).sessionmaker() as session:
            before = await session.get(Setting, "credentials")
            before_value = dict(before.value_json) if before else None
        form = {"csrf_token": csrf, "path": "key\x00.json", "intent": "save"}
        resp = await console.post("/ui/settings/credentials", data=form, headers=HTMX)
        assert resp.status_code == 422, resp.text
        errors = dict(re.findall(r'id="err-credentials-(\w+)">([^<]+)<', resp.text))
        assert "NUL" in errors["path"], errors
        async with runtime_of(app).sessionmaker() as session:
            after = await session.get(Setting, "credentials")
            assert (dict(after.value_json) if after else None) == before_value
