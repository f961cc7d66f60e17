"""Page / per_page query parameters with the configured maximum; limit / offset as aliases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from foredeck.errors import ValidationFailed
from foredeck.kit.runtime import get_runtime

MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class PageParams:
    page: int
    per_page: int
    start: int | None = None  # an explicit offset (the `offset` alias), else from the page

    @property
    def offset(self) -> int:
        return self.start if self.start is not None else (self.page - 1) * self.per_page


def page_params(
    request: Request,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int | None, Query(ge=1, description="The same as per_page")] = None,
    offset: Annotated[int | None, Query(ge=0, description="Rows to skip, instead of page")] = None,
) -> PageParams:
    config = get_runtime(request).config
    if limit is not None and per_page is not None and limit != per_page:
        raise ValidationFailed.field("limit", "limit and per_page differ; send one of them")
    if offset is not None and page != 1:
        raise ValidationFailed.field("offset", "send offset or page, not both")
    size = per_page or limit or config.default_page_size
    if size > config.max_page_size:
        name = "per_page" if per_page is not None else "limit"
        raise ValidationFailed.field(name, f"{name} must be at most {config.max_page_size}")
    if offset is None:
        return PageParams(page=page, per_page=size)
    if offset >= MAX_PAGE * size:
        raise ValidationFailed.field("offset", f"offset must be less than {MAX_PAGE * size}")
    # meta.page is the page the first row falls on.
    return PageParams(page=offset // size + 1, per_page=size, start=offset)


Pagination = Annotated[PageParams, Depends(page_params)]
