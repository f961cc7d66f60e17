"""Both backends behind one interface: the local folder and S3 (boto3 against moto's server)."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from foredeck.blobs import BlobMissing, BlobStore, BlobStoreError, LocalBlobStore, open_store
from foredeck.blobs.store import check_key
from foredeck.config import Config
from tests.blobs.s3server import S3Server


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return open_store(Config(data_dir=tmp_path))
    s3: S3Server = request.getfixturevalue("s3")
    return open_store(Config(data_dir=tmp_path, **s3.settings(s3.make_bucket())))


class Broken(io.RawIOBase):
    """A stream that fails after some bytes, as a client cut off mid-upload."""

    def __init__(self, good: int) -> None:
        self.left = good

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        if self.left <= 0:
            raise ConnectionResetError("client went away")
        n = min(len(buffer), self.left)
        buffer[:n] = b"x" * n
        self.left -= n
        return n


def test_round_trip(store: BlobStore, tmp_path: Path) -> None:
    data = b"id,text\n" + b"".join(b"%d,row %d\n" % (i, i) for i in range(50_000))
    assert store.put("imports/uploads/a1/data.csv", io.BytesIO(data)) == len(data)
    assert store.exists("imports/uploads/a1/data.csv")
    assert store.size("imports/uploads/a1/data.csv") == len(data)
    with store.open("imports/uploads/a1/data.csv") as src:
        assert src.read() == data
    assert b"".join(store.iter_chunks("imports/uploads/a1/data.csv", 4096)) == data
    fetched = store.fetch("imports/uploads/a1/data.csv", tmp_path / "copy" / "data.csv")
    assert fetched.read_bytes() == data
    store.put("imports/uploads/a1/other.txt", io.BytesIO(b"more"))
    assert store.delete_prefix("imports/uploads/a1") == 2
    assert not store.exists("imports/uploads/a1/data.csv")
    assert store.size("imports/uploads/a1/other.txt") is None
    with pytest.raises(BlobMissing):
        store.open("imports/uploads/a1/data.csv")
    store.delete("imports/uploads/a1/data.csv")  # already gone: no error


def test_interrupted_stream_leaves_no_object(store: BlobStore) -> None:
    # 20 MiB good bytes: past the multipart threshold, so S3 had parts it must abort.
    with pytest.raises(ConnectionResetError):
        store.put("exports/j1/big.csv", io.BufferedReader(Broken(20 << 20)))
    assert not store.exists("exports/j1/big.csv")
    if isinstance(store, LocalBlobStore):
        assert not any((store.root / "exports" / "j1").iterdir())
    else:
        uploads = store.client.list_multipart_uploads(Bucket=store.bucket)  # type: ignore[attr-defined]
        assert not uploads.get("Uploads")


@pytest.mark.parametrize("key", ["", "/etc/passwd", "a/../b", "a//b", "./a", "a\\b"])
def test_keys_cannot_escape(key: str) -> None:
    with pytest.raises(ValueError):
        check_key(key)


def test_local_check_and_no_presign(tmp_path: Path) -> None:
    store = open_store(Config(data_dir=tmp_path))
    assert store.check() == "local"
    assert store.presigned_url("a/b", filename="b", media_type="text/csv") is None
    assert store.local_path("a/b") == tmp_path / "a" / "b"


def test_s3_presigned_url_downloads(s3: S3Server, tmp_path: Path) -> None:
    store = open_store(
        Config(data_dir=tmp_path, **s3.settings(s3.make_bucket(), s3_presign_seconds=60))
    )
    store.put("exports/j2/out.csv", io.BytesIO(b"a,b\n1,2\n"))
    url = store.presigned_url("exports/j2/out.csv", filename="out.csv", media_type="text/csv")
    assert url is not None and url.startswith(s3.endpoint_url)
    resp = httpx.get(url)
    assert resp.status_code == 200 and resp.content == b"a,b\n1,2\n"
    assert 'filename="out.csv"' in resp.headers["content-disposition"]


def test_s3_check_connected_and_no_bucket(s3: S3Server, tmp_path: Path) -> None:
    good = open_store(Config(data_dir=tmp_path, **s3.settings(s3.make_bucket())))
    assert good.check() == "connected"
    missing = open_store(Config(data_dir=tmp_path, **s3.settings("fd-no-such-bucket")))
    assert missing.check() == "no_bucket"


def test_s3_unreachable_is_said_quickly(s3: S3Server, tmp_path: Path) -> None:
    settings = s3.settings("b", s3_endpoint_url="http://127.0.0.2:9", s3_connect_timeout_s=0.5)
    store = open_store(Config(data_dir=tmp_path, **settings))
    assert store.check() in ("unreachable", "timeout")
    with pytest.raises(BlobStoreError, match="object store cannot be used"):
        store.put("a/b", io.BytesIO(b"x"))


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers: the read timeout must end the wait."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        sock.close()


def test_s3_silent_server_times_out(s3: S3Server, tmp_path: Path, silent_server: str) -> None:
    settings = s3.settings("b", s3_endpoint_url=silent_server, s3_read_timeout_s=0.5)
    assert open_store(Config(data_dir=tmp_path, **settings)).check() == "timeout"


@pytest.fixture
def refusing_server() -> Iterator[str]:
    """Answers every request as S3 does a wrong access key."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code>'
        b"<Message>The AWS Access Key Id you provided does not exist.</Message></Error>"
    )

    class Refuse(BaseHTTPRequestHandler):
        def _refuse(self) -> None:
            self.send_response(403)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _refuse

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_s3_refused_credentials(s3: S3Server, tmp_path: Path, refusing_server: str) -> None:
    settings = s3.settings("b", s3_endpoint_url=refusing_server)
    store = open_store(Config(data_dir=tmp_path, **settings))
    assert store.check() == "credentials_refused"
    with pytest.raises(BlobStoreError) as caught:
        store.put("a/b", io.BytesIO(b"x"))
    assert "credentials_refused" in str(caught.value)
    assert "foredeck-test-secret" not in str(caught.value)


def test_s3_needs_bucket_and_secret(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="FOREDECK_S3_BUCKET"):
        open_store(Config(data_dir=tmp_path, blob_store="s3"))
    with pytest.raises(ValueError, match="SECRET_ACCESS_KEY_FILE"):
        open_store(Config(data_dir=tmp_path, blob_store="s3", s3_bucket="b", s3_access_key_id="k"))
