"""Base classes for request and response models."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# The largest integer both databases store (a signed 64-bit INTEGER / BIGINT): an id or a
# reference past it is refused with 422 instead of failing in the driver with a 500.
MAX_DB_INT = 2**63 - 1
DbId = Annotated[int, Field(ge=1, le=MAX_DB_INT)]


class StrictBody(BaseModel):
    """A request body: an unknown field is a client bug, so it is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class PatchBody(StrictBody):
    """A partial update: only the fields the client sent are applied."""


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
