"""Tables of the index domain (filled in by that domain's work)."""

from __future__ import annotations
