"""Settings sections: validation before storage, credentials path guard, Sheets checks,
config migration, and that secrets never appear in a response."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.config import Config
from foredeck.db import transaction
from foredeck.kit.runtime import runtime_of
from foredeck.settings import migration
from foredeck.settings import service as settings_service
from tests.conftest import assert_error, stored_section, unique
from tests.settings.fake_google import FakeGoogle, make_service_account


def creds_dir(app: FastAPI) -> Path:
    return runtime_of(app).config.path("credentials")


async def test_sections_have_defaults_and_validity(client: httpx.AsyncClient, viewer: dict) -> None:
    resp = await client.get("/api/v1/settings", headers=viewer)
    assert resp.status_code == 200, resp.text
    sections = resp.json()["data"]["sections"]
    assert set(sections) >= {
        "credentials",
        "sheets",
        "embedding",
        "index",
        "workers",
        "retention",
        "generator",
    }
    assert sections["retention"]["value"]["export_days"] >= 1
    one = (await client.get("/api/v1/settings/index", headers=viewer)).json()["data"]
    assert one["value"]["type"] in ("auto", "flat", "hnsw") and one["valid"] is True
    assert_error(await client.get("/api/v1/settings/nope", headers=viewer), 404)


async def test_put_validates_then_stores(
    client: httpx.AsyncClient, app: FastAPI, admin: dict, operator: dict, viewer: dict
) -> None:
    # The session shares one app: what this test stores is put back after it.
    async with stored_section(app, "retention", {}):
        bad = await client.put(
            "/api/v1/settings/retention",
            json={"telemetry_hours": 0, "export_days": "x", "nope": 1},
            headers=admin,
        )
        err = assert_error(bad, 422, "VALIDATION_ERROR")
        fields = {d["field"] for d in err["details"]}
        assert {"telemetry_hours", "export_days", "nope"} <= fields
        before = (await client.get("/api/v1/settings/retention", headers=viewer)).json()["data"]
        assert before["value"]["telemetry_hours"] != 0

        good = await client.put(
            "/api/v1/settings/retention?notes=keep+a+week",
            json={"telemetry_hours": 48, "export_days": 3, "job_days": 10},
            headers=admin,
        )
        assert good.status_code == 200, good.text
        out = good.json()["data"]
        assert out["configured"] and out["valid"] and out["notes"] == "keep a week"
        assert len(out["checksum"]) == 64 and out["updated_by"]
        async with transaction(runtime_of(app).sessionmaker) as session:
            typed = await settings_service.get_section(session, "retention")
        assert typed.export_days == 3 and typed.telemetry_hours == 48
        assert_error(await client.put("/api/v1/settings/retention", json={}, headers=viewer), 403)


async def test_only_admins_change_settings_operators_validate(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    async with runtime_of(app).sessionmaker() as session:
        before = (await settings_service.get_section(session, "operations")).model_dump()
    value = {**before, "batch_size": 12_345}
    err = assert_error(
        await client.put("/api/v1/settings/operations", json=value, headers=operator),
        403,
        "INSUFFICIENT_ROLE",
    )
    assert "admin role" in err["message"]
    assert_error(await client.delete("/api/v1/settings/operations", headers=operator), 403)
    assert_error(await client.post("/api/v1/settings/import-config", headers=operator), 403)
    async with runtime_of(app).sessionmaker() as session:
        after = (await settings_service.get_section(session, "operations")).model_dump()
    assert after == before
    check = await client.post("/api/v1/settings/operations/validate", json=value, headers=operator)
    assert check.status_code == 200 and check.json()["data"]["valid"] is True


async def test_embedding_model_must_be_known(
    client: httpx.AsyncClient, admin: dict, operator: dict
) -> None:
    resp = await client.put(
        "/api/v1/settings/embedding", json={"model": "no-such-model-xyz"}, headers=admin
    )
    err = assert_error(resp, 422)
    assert err["details"][0]["field"] == "model"
    check = await client.post(
        "/api/v1/settings/embedding/validate", json={"model": "no-such-model-xyz"}, headers=operator
    )
    assert check.json()["data"]["valid"] is False


async def test_credentials_path_guard(
    client: httpx.AsyncClient, app: FastAPI, admin: dict, operator: dict, tmp_path: Path
) -> None:
    base = creds_dir(app)
    outside = tmp_path / "outside.json"
    make_service_account(outside)
    link = base / f"{unique('link')}.json"
    link.symlink_to(outside)
    readable = base / f"{unique('open')}.json"
    make_service_account(readable)
    os.chmod(readable, 0o644)
    cases = {
        str(outside): "inside",
        "../outside.json": "..",
        link.name: "symbolic link",
        "missing.json": "does not exist",
        readable.name: "readable by group or others",
    }
    before = (await client.get("/api/v1/settings/credentials", headers=operator)).json()["data"]
    for path, words in cases.items():
        resp = await client.put("/api/v1/settings/credentials", json={"path": path}, headers=admin)
        err = assert_error(resp, 422)
        assert err["details"][0]["field"] == "path"
        assert words in err["details"][0]["message"], (path, err)
    after = (await client.get("/api/v1/settings/credentials", headers=operator)).json()["data"]
    assert after["checksum"] == before["checksum"]


async def test_credentials_and_sheets_against_fake_google(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin: dict,
    operator: dict,
    viewer: dict,
    fake_google: FakeGoogle,
) -> None:
    name = f"{unique('sa')}.json"
    fake_google.public_keys.append(make_service_account(creds_dir(app) / name))
    resp = await client.put("/api/v1/settings/credentials", json={"path": name}, headers=admin)
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["valid"] and data["info"]["client_email"].startswith("importer@")
    secret = (creds_dir(app) / name).read_text()
    for url in ("/api/v1/settings", "/api/v1/settings/credentials"):
        text = (await client.get(url, headers=viewer)).text
        assert "PRIVATE KEY" not in text and secret[:40] not in text

    sid = unique("sheet") + "abcdef"
    fake_google.add_spreadsheet(sid, {"Data": [["content"], ["hello"]]}, title="Imports")
    sheets = {
        "api_base_url": fake_google.base_url,
        "token_url": fake_google.token_url,
        "sheets": [{"name": "main", "spreadsheet_id": sid, "range": "Data"}],
    }
    ok = await client.put("/api/v1/settings/sheets", json=sheets, headers=admin)
    assert ok.status_code == 200, ok.text
    assert ok.json()["data"]["info"]["titles"] == {"main": "Imports"}
    assert ok.json()["data"]["validated_at"]

    wrong_tab = {**sheets, "sheets": [{"name": "m", "spreadsheet_id": sid, "range": "Nope"}]}
    err = assert_error(
        await client.put("/api/v1/settings/sheets", json=wrong_tab, headers=admin), 422
    )
    assert err["details"][0]["field"] == "sheets.0.range"
    missing = {**sheets, "sheets": [{"name": "m", "spreadsheet_id": "doesnotexist1", "range": "A"}]}
    err = assert_error(
        await client.put("/api/v1/settings/sheets", json=missing, headers=admin), 422
    )
    assert "not found" in err["details"][0]["message"]
    stored = (await client.get("/api/v1/settings/sheets", headers=viewer)).json()["data"]
    assert stored["value"]["sheets"][0]["spreadsheet_id"] == sid

    # A key the token server does not trust is refused by the token exchange.
    rogue = f"{unique('rogue')}.json"
    make_service_account(creds_dir(app) / rogue)
    async with transaction(runtime_of(app).sessionmaker) as session:
        await settings_service.put_section(
            session, "credentials", {"path": rogue}, config=runtime_of(app).config
        )
    check = await client.post("/api/v1/settings/sheets/validate", headers=operator)
    assert check.json()["data"]["valid"] is False
    async with transaction(runtime_of(app).sessionmaker) as session:
        await settings_service.put_section(
            session, "credentials", {"path": name}, config=runtime_of(app).config
        )


async def test_config_migration_runs_once(app: FastAPI, db: AsyncSession, tmp_path: Path) -> None:
    base: Config = runtime_of(app).config
    yaml_file = tmp_path / "foredeck.yaml"
    yaml_file.write_text("index:\n  type: hnsw\n  ef_search: 99\nworkers:\n  concurrency: 7\n")
    config = base.model_copy(update={"config_file": yaml_file})
    env = {"FOREDECK_INDEX_HNSW_M": "48", "FOREDECK_UNRELATED": "1"}
    await settings_service.delete_section(db, "index")
    report = await migration.import_config(db, config, environ=env, overwrite=True)
    assert "index" in report.imported
    assert "workers" in report.skipped  # a bare number is not a per-queue mapping
    await db.commit()
    index = await settings_service.get_section(db, "index")
    assert (index.type, index.ef_search, index.hnsw_m) == ("hnsw", 99, 48)
    # The first run already happened at start-up, so a first-run import is a no-op.
    again = await migration.import_config(db, config, environ=env, first_run=True)
    assert again.already_done


async def test_db_fixture_keeps_what_a_test_commits_to_itself(
    app: FastAPI, db: AsyncSession
) -> None:
    """What a test commits through `db` is visible to it and to no other connection; the
    fixture rolls the outer transaction back at teardown."""
    name = "retention"
    async with runtime_of(app).sessionmaker() as other:
        before = (await settings_service.get_section(other, name)).job_days
    value = {"job_days": before + 1, "export_days": 2, "telemetry_hours": 12}
    await settings_service.put_section(db, name, value, config=runtime_of(app).config, remote=False)
    await db.commit()
    assert (await settings_service.get_section(db, name)).job_days == before + 1
    async with runtime_of(app).sessionmaker() as other:
        assert (await settings_service.get_section(other, name)).job_days == before
