"""The other domains' services, looked up when first used.

The console only ever calls the same service functions as the API. A domain whose service is
not installed yet leaves its page in an honest "not available" state instead of breaking the
whole console.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from foredeck.logging import get_logger

log = get_logger(__name__)


def service(domain: str, module: str = "service") -> ModuleType | None:
    """`foredeck.<domain>.<module>`, or None when that domain has not built it."""
    try:
        return importlib.import_module(f"foredeck.{domain}.{module}")
    except ImportError:
        return None
    except Exception:
        log.exception("console_backend_import_failed", domain=domain, module=module)
        return None
