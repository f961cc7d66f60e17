"""Every job kind foredeck runs.

Importing a domain's handlers module registers its kinds in `jobs.registry`; the engine only
reads the registry. So every process that enqueues or runs jobs imports this module: the app
(server, Celery worker, MCP over stdio) and the CLI, whose commands enqueue jobs without an app.
"""

from __future__ import annotations

from types import ModuleType

from foredeck.generator import handlers as generator_handlers
from foredeck.index import feeding as index_feeding
from foredeck.index import handlers as index_handlers
from foredeck.jobs import handlers as jobs_handlers
from foredeck.operations import handlers as operations_handlers
from foredeck.schedules import handlers as schedules_handlers

HANDLER_MODULES: list[ModuleType] = [
    jobs_handlers,
    operations_handlers,
    index_feeding,
    index_handlers,
    generator_handlers,
    schedules_handlers,
]
