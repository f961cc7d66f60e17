"""HTTP routes of the index domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
