"""HTTP routes of the workers domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
