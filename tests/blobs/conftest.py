"""A local S3-compatible server (moto's server mode) on 127.0.0.1 for the real boto3 client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from foredeck.blobs import open_store
from foredeck.blobs import store as blob_store
from foredeck.config import Config
from foredeck.kit.runtime import runtime_of
from tests.blobs.s3server import S3Server, s3_server


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with s3_server(tmp_path_factory.mktemp("s3-secret")) as server:
        yield server


@contextmanager
def store_of(app: FastAPI, config: Config) -> Iterator[Any]:
    """The session app's processes use this blob store for the test, then their own again."""
    key = id(runtime_of(app).config)
    before = blob_store._STORES.get(key)
    store = open_store(config)
    blob_store._STORES[key] = store
    try:
        yield store
    finally:
        if before is None:
            blob_store._STORES.pop(key, None)
        else:
            blob_store._STORES[key] = before


@pytest.fixture
def s3_store(app: FastAPI, s3: S3Server, tmp_path: Path) -> Iterator[Any]:
    with store_of(app, Config(data_dir=tmp_path, **s3.settings(s3.make_bucket()))) as store:
        yield store


def keys(store: Any, prefix: str = "") -> list[str]:
    """The bucket's keys under prefix (a test on the session app also sees the index
    checkpoints its embed jobs store meanwhile, under index/)."""
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))
