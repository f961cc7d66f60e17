"""`/api/v1/<entity>` for each registry resource: thin CRUD, no side effects (seed 002 §1)."""

from __future__ import annotations

from fastapi import APIRouter

from foredeck.auth.deps import Admin, Operator, Viewer
from foredeck.kit.crud import CrudRoles, crud_router
from foredeck.registry.specs import SPECS

router = APIRouter()
ROLES = CrudRoles(viewer=Viewer, operator=Operator, admin=Admin)
for _spec in SPECS:
    router.include_router(crud_router(_spec, ROLES))
