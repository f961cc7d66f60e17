"""HTTP routes of the operations domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
