"""HTTP routes of the embedding domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
