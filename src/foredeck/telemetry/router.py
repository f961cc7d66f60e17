"""HTTP routes of the telemetry domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
