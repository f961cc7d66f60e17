"""CRUD of every registry entity through foredeck.client (the async client, in-process)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from foredeck.client import AsyncClient, ForedeckError
from foredeck.registry.specs import SPECS
from tests.registry.test_cli import _key
from tests.registry.test_crud import _bodies


async def test_every_entity_through_the_client(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, admin: dict
) -> None:
    transport = httpx.ASGITransport(app=app)
    labels = {s.path: s.label.replace(" ", "_") for s in SPECS}
    async with (
        AsyncClient("http://test", await _key(client, operator), transport=transport) as op,
        AsyncClient("http://test", await _key(client, admin), transport=transport) as adm,
    ):
        bodies = await _bodies(client, operator)
        assert {path for path, *_ in bodies} == set(labels)
        for path, body, field, value in bodies:
            one = labels[path]
            made = await getattr(op, f"create_{one}")(body)
            got = await getattr(op, f"get_{one}")(made.id)
            assert got == made
            page = await getattr(op, f"list_{path}")(per_page=200)
            assert page.meta.total >= 1
            changed = await getattr(op, f"update_{one}")(made.id, {field: value})
            assert getattr(changed, field) == value
            with pytest.raises(ForedeckError) as err:
                await getattr(op, f"delete_{one}")(made.id)
            assert err.value.code == "INSUFFICIENT_ROLE"
            assert await getattr(adm, f"delete_{one}")(made.id) is None
            with pytest.raises(ForedeckError) as err:
                await getattr(op, f"get_{one}")(made.id)
            assert err.value.status == 404
