"""The OpenAI-compatible provider against a local fake embeddings server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from foredeck.config import Config
from foredeck.embedding import registry
from foredeck.embedding.providers import EmbeddingError, OpenAIEmbedder
from foredeck.errors import ServiceUnavailable

DIM = 8
KEY = "sk-test-123"


def fake_vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b - 128.0 for b in digest[:DIM]]


class FakeEmbeddings(BaseHTTPRequestHandler):
    mode = "ok"
    requests: list[dict] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization")})
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            return self._send(401, {"error": {"message": "bad key"}})
        if self.mode == "error":
            return self._send(500, {"error": {"message": "overloaded"}})
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(t)}
            for i, t in enumerate(body["input"])
        ]
        if self.mode == "short":
            data = [{**d, "embedding": d["embedding"][:3]} for d in data]
        # Out of order on purpose: clients must sort by index.
        self._send(200, {"object": "list", "data": list(reversed(data)), "model": body["model"]})

    def _send(self, status: int, payload: dict) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeEmbeddings)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "key"
    path.write_text(KEY + "\n")
    return path


def test_embeds_in_order_with_the_key(server: str, key_file: Path) -> None:
    FakeEmbeddings.mode = "ok"
    embedder = OpenAIEmbedder(
        "api:fake", base_url=server, model="fake", dimension=DIM, max_tokens=512, key_file=key_file
    )
    vectors = embedder.encode(["alpha", "beta", "gamma"])
    assert vectors.shape == (3, DIM)
    expected = np.asarray(fake_vector("beta"), dtype=np.float32)
    assert np.allclose(vectors[1], expected / np.linalg.norm(expected), atol=1e-6)
    assert FakeEmbeddings.requests[-1] == {"path": "/v1/embeddings", "auth": f"Bearer {KEY}"}


def test_failures_raise_embedding_error(server: str, key_file: Path, tmp_path: Path) -> None:
    embedder = OpenAIEmbedder(
        "api:fake", base_url=server, model="fake", dimension=DIM, max_tokens=512, key_file=key_file
    )
    for mode in ("error", "short"):
        FakeEmbeddings.mode = mode
        with pytest.raises(EmbeddingError):
            embedder.encode(["alpha"])
    FakeEmbeddings.mode = "ok"
    wrong = tmp_path / "wrong"
    wrong.write_text("nope")
    bad_key = OpenAIEmbedder(
        "api:fake", base_url=server, model="fake", dimension=DIM, max_tokens=512, key_file=wrong
    )
    with pytest.raises(EmbeddingError, match="401"):
        bad_key.encode(["alpha"])
    unreachable = OpenAIEmbedder(
        "api:fake",
        base_url="http://127.0.0.1:9/v1",
        model="fake",
        dimension=DIM,
        max_tokens=512,
        key_file=key_file,
    )
    with pytest.raises(EmbeddingError, match="unreachable"):
        unreachable.encode(["alpha"])
    with pytest.raises(ServiceUnavailable):
        OpenAIEmbedder(
            "api:fake",
            base_url=server,
            model="fake",
            dimension=DIM,
            max_tokens=512,
            key_file=tmp_path / "missing",
        )


def test_registry_lists_and_loads_the_api_model(server: str, key_file: Path) -> None:
    FakeEmbeddings.mode = "ok"
    config = Config(
        embedding_api_url=server,
        embedding_api_model="fake-embed",
        embedding_api_dimension=DIM,
        embedding_api_key_file=key_file,
    )
    entry = {m.name: m for m in registry.available_models(config)}["api:fake-embed"]
    assert entry.provider == "openai-compatible" and entry.installed and entry.dimension == DIM
    embedder = registry.load_embedder(config, "api:fake-embed")
    assert embedder.encode(["x"]).shape == (1, DIM)
