"""Tables of the settings domain (filled in by that domain's work)."""

from __future__ import annotations
