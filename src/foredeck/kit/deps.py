"""Request-scoped dependencies shared by every domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from foredeck.config import Config
from foredeck.kit.runtime import get_runtime


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; the only place a request's work is committed."""
    async with get_runtime(request).sessionmaker() as session:
        try:
            yield session
            # A request that never touched the database skips the commit round trip.
            if session.in_transaction():
                await session.commit()
        except BaseException:
            if session.in_transaction():
                await session.rollback()
            raise


class LazySession:
    """A unit of work whose session is only made if someone asks for it.

    Auth and hot read paths often need no database at all; an AsyncSession that is opened and
    closed still costs a greenlet switch and a pool check-out, so make it on first use.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._maker = sessionmaker
        self._session: AsyncSession | None = None

    def __getattr__(self, name: str) -> Any:
        if self._session is None:
            self._session = self._maker()
        return getattr(self._session, name)

    async def __aenter__(self) -> AsyncSession:
        return self  # type: ignore[return-value]

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        session = self._session
        if session is None:
            return
        try:
            if exc_type is None and session.in_transaction():
                await session.commit()
            elif session.in_transaction():
                await session.rollback()
        finally:
            await session.close()


def get_config(request: Request) -> Config:
    return get_runtime(request).config  # type: ignore[no-any-return]


# "function" scope: the commit happens before the response is sent, so a client never sees a
# success (or a new id it then cannot read) for work that is not yet committed, and a failed
# commit becomes an error response instead of a silent loss after a 2xx.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ConfigDep = Annotated[Config, Depends(get_config)]
