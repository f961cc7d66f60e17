"""Start-up of the settings domain: the one-time migration of file and env configuration."""

from __future__ import annotations

from fastapi import FastAPI

from foredeck.db import transaction
from foredeck.logging import get_logger

log = get_logger(__name__)


async def startup(app: FastAPI) -> None:
    from foredeck.settings.migration import import_config
    from foredeck.settings.service import worker_slots

    app.state.worker_slots = worker_slots

    try:
        async with transaction(app.state.sessionmaker) as session:
            await import_config(session, app.state.config, first_run=True)
    except Exception:
        # Another replica may have done it at the same moment; settings stay editable anyway.
        log.exception("settings_config_import_failed")


async def shutdown(app: FastAPI) -> None:
    return None
