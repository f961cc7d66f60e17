"""The reference for bench.api: a bare FastAPI endpoint returning a fixed JSON body."""

from __future__ import annotations

import json
import os
from typing import Any

from fastapi import FastAPI

app = FastAPI()
BODY: dict[str, Any] = json.loads(os.environ.get("BENCH_BODY", "{}"))


@app.get("/api/v1/memories/{memory_id}")
async def get_memory(memory_id: int) -> dict[str, Any]:
    return BODY
