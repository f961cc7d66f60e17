"""Request-scoped dependencies shared by every domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.config import Config


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; the only place a request's work is committed."""
    async with request.app.state.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def get_config(request: Request) -> Config:
    return request.app.state.config  # type: ignore[no-any-return]


SessionDep = Annotated[AsyncSession, Depends(get_session)]
ConfigDep = Annotated[Config, Depends(get_config)]
