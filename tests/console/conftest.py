from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from foredeck.config import Config
from tests.console.server import LiveServer


# Package scope: a second app runs its own worker pool on the shared database; later
# packages expect the session app's pool to be the only one.
@pytest.fixture(scope="package")
def live_server(app: FastAPI, config: Config) -> Iterator[LiveServer]:
    """A second app on a real socket, sharing the session's database."""
    server = LiveServer(config).start()
    yield server
    server.stop()
