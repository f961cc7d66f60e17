"""Page / per_page query parameters with the configured maximum."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from foredeck.errors import ValidationFailed


@dataclass(frozen=True)
class PageParams:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def page_params(
    request: Request,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int | None, Query(ge=1)] = None,
) -> PageParams:
    config = request.app.state.config
    size = per_page or config.default_page_size
    if size > config.max_page_size:
        raise ValidationFailed.field("per_page", f"per_page must be at most {config.max_page_size}")
    return PageParams(page=page, per_page=size)


Pagination = Annotated[PageParams, Depends(page_params)]
