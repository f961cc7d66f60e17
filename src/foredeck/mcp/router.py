"""HTTP routes of the mcp domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
