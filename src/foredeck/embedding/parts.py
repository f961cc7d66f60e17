"""What the embedding domain puts on the runtime (see foredeck.kit.runtime)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from foredeck.kit.runtime import Part

if TYPE_CHECKING:
    from foredeck.embedding.providers import Embedder

# The loaded model of this process, provided by the embedding start-up.
EMBEDDER: Part[Embedder] = Part("embedder")
# Set to run the embed loop now (saving the embedding section, a model switch).
EMBED_WAKEUP: Part[asyncio.Event] = Part("embed_wakeup")
