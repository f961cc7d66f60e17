"""The S3-compatible store of `make cluster`: moto's server on 127.0.0.1 with the cluster's bucket.

A stand-in for MinIO, S3 or R2 so scale-out can be tried on one machine with no shared folder.
It keeps objects in memory: they are gone when the cluster stops (the database then names
uploads and exports whose files no longer exist). It runs in the foreground because honcho
stops the whole cluster when one of its processes exits.
"""

from __future__ import annotations

import os
import signal
import threading

import boto3
from moto.server import ThreadedMotoServer


def main() -> None:
    port = int(os.environ["CLUSTER_S3_PORT"])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    secret_file = os.environ["FOREDECK_S3_SECRET_ACCESS_KEY_FILE"]
    with open(secret_file) as handle:
        secret = handle.read().strip()
    boto3.client(
        "s3",
        endpoint_url=os.environ["FOREDECK_S3_ENDPOINT_URL"],
        region_name=os.environ["FOREDECK_S3_REGION"],
        aws_access_key_id=os.environ["FOREDECK_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=secret,
    ).create_bucket(Bucket=os.environ["FOREDECK_S3_BUCKET"])
    print(f"S3 store on 127.0.0.1:{port}, bucket {os.environ['FOREDECK_S3_BUCKET']}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
