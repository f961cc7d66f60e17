"""Snapshot round trip and every bad-snapshot case: 4xx with a clear code, live index unchanged."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import httpx
import pytest
from fastapi import FastAPI

from foredeck.index.parts import INDEX_MANAGER
from foredeck.kit.runtime import runtime_of
from tests.conftest import assert_error, unique
from tests.index.helpers import create, wait_embedded, wait_index_idle

URL = "/api/v1/index/snapshot"


def members(blob: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:") as tar:
        out = {}
        for m in tar:
            f = tar.extractfile(m)
            assert f is not None
            out[m.name] = f.read()
        return out


def make_tar(files: dict[str, bytes], *, extra: list[tarfile.TarInfo] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info)
    return buf.getvalue()


def with_manifest(source: dict[str, bytes], **changes: object) -> dict[str, bytes]:
    files = dict(source)
    manifest = json.loads(files["manifest.json"])
    manifest.update(changes)
    return {**files, "manifest.json": json.dumps(manifest).encode()}


async def upload(client: httpx.AsyncClient, headers: dict, blob: bytes) -> httpx.Response:
    files = {"file": ("snap.tar", blob, "application/x-tar")}
    return await client.post(URL, files=files, headers=headers)


async def stats(client: httpx.AsyncClient, headers: dict) -> dict:
    resp = await client.get("/api/v1/index", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


@pytest.fixture(scope="module")
async def snapshot(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, viewer: dict
) -> tuple[str, bytes]:
    coll = unique("snap")
    await create(client, operator, coll, [f"snapshot record number {i}" for i in range(5)])
    await wait_embedded(app, client, viewer, coll, 5)
    await wait_index_idle(client, operator)
    resp = await client.get(URL, headers=operator)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/x-tar"
    return coll, resp.content


async def test_snapshot_contents(snapshot: tuple[str, bytes], client, viewer) -> None:
    _, blob = snapshot
    files = members(blob)
    assert set(files) == {"index.faiss", "ids.npy", "manifest.json"}
    manifest = json.loads(files["manifest.json"])
    assert manifest["format_version"] == 1
    assert manifest["model"] == "static-64" and manifest["dimension"] == 64
    assert manifest["count"] >= 5
    assert manifest["checksum"] == hashlib.sha256(files["index.faiss"]).hexdigest()


async def test_round_trip_replaces_the_index(
    app: FastAPI,
    client: httpx.AsyncClient,
    snapshot: tuple[str, bytes],
    operator: dict,
    admin: dict,
    viewer: dict,
) -> None:
    coll, blob = snapshot
    manifest = json.loads(members(blob)["manifest.json"])
    later = unique("later")
    await create(client, operator, later, ["a record added after the snapshot was taken"])
    await wait_embedded(app, client, viewer, later, 1)
    query = {"query": "record added after", "mode": "semantic", "collection": later}
    hits = (await client.post("/api/v1/search", json=query, headers=viewer)).json()["data"]
    assert len(hits["hits"]) == 1

    await wait_index_idle(client, admin)
    resp = await upload(client, admin, blob)
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["restored"] is True
    assert data["stats"]["checksum"] == manifest["checksum"]
    # The restored index is the snapshot's: the later record's vector is not in it ...
    hits = (await client.post("/api/v1/search", json=query, headers=viewer)).json()["data"]
    assert hits["hits"] == []
    # ... while the snapshot's records are found.
    query_old = {"query": "snapshot record", "mode": "semantic", "collection": coll}
    old = (await client.post("/api/v1/search", json=query_old, headers=viewer)).json()["data"]
    assert len(old["hits"]) == 5


async def test_restore_needs_admin(
    client: httpx.AsyncClient, snapshot: tuple[str, bytes], operator: dict
) -> None:
    assert_error(await upload(client, operator, snapshot[1]), 403)


def _cut_inside(blob: bytes, name: str) -> bytes:
    """The archive cut in the middle of one entry's data. Half the archive is not enough: with
    a small index, half can fall just after an entry, which reads as an archive without the
    later entries (SNAPSHOT_INCOMPLETE), not a cut one."""
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        member = tar.getmember(name)
    assert member.size > 1
    return blob[: member.offset_data + member.size // 2]


def _bad_cases(blob: bytes) -> list[tuple[str, bytes, int, str]]:
    files = members(blob)
    flipped = bytearray(files["index.faiss"])
    flipped[len(flipped) // 2] ^= 0xFF
    junk = b"not an index"
    sums = {
        **json.loads(files["manifest.json"])["files"],
        "index.faiss": hashlib.sha256(junk).hexdigest(),
    }
    traversal = tarfile.TarInfo("../escape.txt")
    link = tarfile.TarInfo("index.faiss")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    return [
        ("garbage", b"\x00\x01garbage" * 500, 422, "SNAPSHOT_NOT_TAR"),
        ("truncated", _cut_inside(blob, "index.faiss"), 422, "SNAPSHOT_TRUNCATED"),
        (
            "checksum",
            make_tar({**files, "index.faiss": bytes(flipped)}),
            422,
            "SNAPSHOT_CHECKSUM_MISMATCH",
        ),
        ("model", make_tar(with_manifest(files, model="other")), 422, "SNAPSHOT_MODEL_MISMATCH"),
        (
            "dimension",
            make_tar(with_manifest(files, dimension=384)),
            422,
            "SNAPSHOT_DIMENSION_MISMATCH",
        ),
        (
            "version",
            make_tar(with_manifest(files, format_version=99)),
            422,
            "SNAPSHOT_FORMAT_VERSION",
        ),
        (
            "traversal",
            make_tar(files, extra=[traversal]),
            422,
            "SNAPSHOT_UNSAFE_ENTRY",
        ),
        (
            "absolute",
            make_tar({"/tmp/manifest.json": files["manifest.json"]}),
            422,
            "SNAPSHOT_UNSAFE_ENTRY",
        ),
        (
            "link",
            make_tar({k: v for k, v in files.items() if k != "index.faiss"}, extra=[link]),
            422,
            "SNAPSHOT_UNSAFE_ENTRY",
        ),
        (
            "missing",
            make_tar({k: v for k, v in files.items() if k != "ids.npy"}),
            422,
            "SNAPSHOT_INCOMPLETE",
        ),
        (
            "bad_manifest",
            make_tar({**files, "manifest.json": b"{not json"}),
            422,
            "SNAPSHOT_BAD_MANIFEST",
        ),
        (
            "deep_manifest",
            make_tar({**files, "manifest.json": b"[" * 100_000 + b"]" * 100_000}),
            422,
            "SNAPSHOT_BAD_MANIFEST",
        ),
        (
            "corrupt_index",
            make_tar(
                with_manifest(
                    {**files, "index.faiss": junk}, files=sums, checksum=sums["index.faiss"]
                )
            ),
            422,
            "SNAPSHOT_CORRUPT",
        ),
    ]


async def test_bad_snapshots_leave_the_index_alone(
    app: FastAPI, client: httpx.AsyncClient, snapshot: tuple[str, bytes], admin: dict
) -> None:
    await wait_index_idle(client, admin)
    before = await stats(client, admin)
    root = runtime_of(app)[INDEX_MANAGER].root
    for name, blob, status, code in _bad_cases(snapshot[1]):
        resp = await upload(client, admin, blob)
        assert resp.status_code == status, (name, resp.text)
        assert resp.json()["error"]["code"] == code, (name, resp.text)
        after = await stats(client, admin)
        assert after["checksum"] == before["checksum"], name
        assert after["generation"] == before["generation"], name
        leftovers = [p.name for p in root.iterdir() if not p.name.startswith("gen-")]
        assert leftovers == [], (name, leftovers)
    assert not (root.parent / "escape.txt").exists()


def _lying_manifests(blob: bytes) -> list[tuple[str, bytes, str, str]]:
    """Archives whose files are intact but whose manifest.json lies about them:
    (case, tar, error code, the file the error must name)."""
    files = members(blob)
    manifest = json.loads(files["manifest.json"])
    sums = manifest["files"]
    other = hashlib.sha256(b"something else").hexdigest()
    unsummed = {k: v for k, v in manifest.items() if k != "checksum"}
    cases = [
        ("index checksum", with_manifest(files, checksum=other), "MISMATCH", "index.faiss"),
        (
            "no index checksum",
            {**files, "manifest.json": json.dumps(unsummed).encode()},
            "MISMATCH",
            "index.faiss",
        ),
        ("ids sha", with_manifest(files, files={**sums, "ids.npy": other}), "MISMATCH", "ids.npy"),
        (
            "ids unlisted",
            with_manifest(files, files={"index.faiss": sums["index.faiss"]}),
            "INCOMPLETE",
            "ids.npy",
        ),
        (
            "extra listed",
            with_manifest(files, files={**sums, "vectors.bin": other}),
            "UNEXPECTED_ENTRY",
            "vectors.bin",
        ),
    ]
    code = {"MISMATCH": "SNAPSHOT_CHECKSUM_MISMATCH"}
    return [
        (name, make_tar(tar), code.get(kind, f"SNAPSHOT_{kind}"), file)
        for name, tar, kind, file in cases
    ]


async def test_a_lying_manifest_is_refused_naming_the_file(
    app: FastAPI, client: httpx.AsyncClient, snapshot: tuple[str, bytes], admin: dict
) -> None:
    await wait_index_idle(client, admin)
    before = await stats(client, admin)
    root = runtime_of(app)[INDEX_MANAGER].root
    generations = sorted(p.name for p in root.iterdir())
    for name, blob, code, file in _lying_manifests(snapshot[1]):
        resp = await upload(client, admin, blob)
        assert_error(resp, 422, code)
        error = resp.json()["error"]
        assert file in error["message"], (name, resp.text)
        assert error["details"] == [{"field": "file", "message": error["message"]}], name
        after = await stats(client, admin)
        assert (after["checksum"], after["generation"]) == (
            before["checksum"],
            before["generation"],
        ), name
        assert sorted(p.name for p in root.iterdir()) == generations, name


async def test_oversize_snapshot_is_413(
    app: FastAPI, client: httpx.AsyncClient, snapshot: tuple[str, bytes], admin: dict
) -> None:
    await wait_index_idle(client, admin)
    before = await stats(client, admin)
    config = runtime_of(app).config
    saved = config.index_snapshot_max_bytes
    config.index_snapshot_max_bytes = 1024
    try:
        assert_error(await upload(client, admin, snapshot[1]), 413, "SNAPSHOT_TOO_LARGE")
    finally:
        config.index_snapshot_max_bytes = saved
    assert (await stats(client, admin))["checksum"] == before["checksum"]


async def test_missing_file_field_is_422(client: httpx.AsyncClient, admin: dict) -> None:
    resp = await client.post(URL, data={"other": "x"}, headers=admin)
    assert_error(resp, 422)
