"""Start-up of the settings domain: the one-time migration of file and env configuration."""

from __future__ import annotations

from foredeck.db import transaction
from foredeck.kit.runtime import Runtime
from foredeck.logging import get_logger
from foredeck.workers.parts import WORKER_SLOTS

log = get_logger(__name__)


async def startup(runtime: Runtime) -> None:
    from foredeck.settings.migration import import_config
    from foredeck.settings.service import worker_slots

    runtime[WORKER_SLOTS] = worker_slots

    try:
        async with transaction(runtime.sessionmaker) as session:
            await import_config(session, runtime.config, first_run=True)
    except Exception:
        # Another replica may have done it at the same moment; settings stay editable anyway.
        log.exception("settings_config_import_failed")


async def shutdown(runtime: Runtime) -> None:
    return None
