"""HTTP routes of the settings domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
