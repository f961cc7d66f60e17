"""Start moto's S3 server on a free 127.0.0.1 port and make a bucket (for any test package)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCESS_KEY = "foredeck-test-key"
SECRET = "foredeck-test-secret-value"


@dataclass
class S3Server:
    endpoint_url: str
    secret_file: Path

    def settings(self, bucket: str, **extra: Any) -> dict[str, Any]:
        """Config fields for a store on this server."""
        return {
            "blob_store": "s3",
            "s3_endpoint_url": self.endpoint_url,
            "s3_bucket": bucket,
            "s3_region": "us-east-1",
            "s3_access_key_id": ACCESS_KEY,
            "s3_secret_access_key_file": self.secret_file,
            **extra,
        }

    def make_bucket(self) -> str:
        import boto3

        name = f"fd-{uuid.uuid4().hex[:12]}"
        boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET,
        ).create_bucket(Bucket=name)
        return name


@contextlib.contextmanager
def s3_server(secret_dir: Path) -> Iterator[S3Server]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    secret_file = secret_dir / "s3-secret"
    secret_file.write_text(SECRET + "\n")
    try:
        yield S3Server(endpoint_url=f"http://{host}:{port}", secret_file=secret_file)
    finally:
        server.stop()
