"""The first admin when replicas start together on one empty database."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from foredeck.auth import service as auth_service
from foredeck.auth.schemas import Role
from foredeck.db import transaction
from foredeck.kit.runtime import runtime_of
from foredeck.models.auth import User


async def test_the_replica_that_loses_the_race_starts_without_a_second_admin(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    maker = runtime_of(app).sessionmaker
    async with transaction(maker) as session:
        if await session.scalar(select(User).where(User.username == "admin")) is None:
            await auth_service.create_user(
                session, username="admin", password="first-admin-pw-1", role=Role.admin
            )

    # The other replica committed its admin after this one counted none.
    async def none_yet(_session: object) -> int:
        return 0

    monkeypatch.setattr(auth_service, "count_users", none_yet)
    assert await auth_service.first_admin(maker) is None
    async with transaction(maker) as session:
        admins = await session.scalar(
            select(func.count()).select_from(User).where(User.username == "admin")
        )
    assert admins == 1
