"""A local S3-compatible server (moto's server mode) on 127.0.0.1 for the real boto3 client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.blobs.s3server import S3Server, s3_server


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with s3_server(tmp_path_factory.mktemp("s3-secret")) as server:
        yield server
