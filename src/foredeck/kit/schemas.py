"""Base classes for request and response models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictBody(BaseModel):
    """A request body: an unknown field is a client bug, so it is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class PatchBody(StrictBody):
    """A partial update: only the fields the client sent are applied."""


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
