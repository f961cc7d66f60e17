"""Real models: the static model in the app, MiniLM on the labelled set, recall asserted."""

from __future__ import annotations

import numpy as np
import pytest

from foredeck.config import Config
from foredeck.embedding import registry
from foredeck.errors import ValidationFailed
from foredeck.index.vectors import VectorIndex
from tests.embedding.labelled import DOCS, QUERIES, recall_at


def rank_with(embedder: registry.Embedder) -> dict[str, list[str]]:
    names = list(DOCS)
    vindex = VectorIndex(embedder.dimension, "flat")
    vindex.add(list(range(len(names))), embedder.encode([DOCS[n] for n in names]))
    ranked = {}
    for query in QUERIES:
        hits = vindex.search(embedder.encode([query])[0], 5)
        ranked[query] = [names[i] for i, _ in hits]
    return ranked


def test_static_model_embeds_unit_vectors() -> None:
    embedder = registry.load_embedder(Config(), registry.STATIC)
    vectors = embedder.encode(["hello world", "another text", ""])
    assert vectors.shape == (3, 64) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, atol=1e-5)
    # Far weaker than MiniLM on paraphrases, yet far above chance (3 in 16 at k=3).
    assert recall_at(3, rank_with(embedder)) >= 0.6


@pytest.mark.minilm
def test_minilm_recall_on_labelled_set() -> None:
    embedder = registry.load_embedder(Config(), registry.MINILM)
    assert embedder.dimension == 384
    ranked = rank_with(embedder)
    assert recall_at(1, ranked) >= 0.9
    assert recall_at(3, ranked) >= 0.95


def test_registry_refuses_unknown_models() -> None:
    config = Config()
    with pytest.raises(ValidationFailed) as err:
        registry.model_info(config, "no-such-model")
    assert err.value.code == "UNKNOWN_MODEL"
    with pytest.raises(ValidationFailed):
        registry.load_embedder(config, "api:text-embedding-3-small")
    names = [m.name for m in registry.available_models(config)]
    assert names[:2] == [registry.MINILM, registry.STATIC]


def test_default_model_prefers_minilm() -> None:
    assert registry.default_model(Config()) == registry.MINILM
    assert registry.default_model(Config(embedding_model="static-64")) == registry.STATIC
