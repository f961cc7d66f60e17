"""`/api/v1/<entity>` for each registry resource: thin CRUD, no side effects (seed 002 §1)."""

from __future__ import annotations

from fastapi import APIRouter

from foredeck.kit.crud import crud_router
from foredeck.registry.specs import SPECS

router = APIRouter()
for _spec in SPECS:
    router.include_router(crud_router(_spec))
