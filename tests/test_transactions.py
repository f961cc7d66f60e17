"""One place owns each transaction: services take a session and never commit it.

A request's session is committed by `kit.deps`, a job's by `jobs.context` (JobContext), every
other edge (lifecycles, loops, CLI commands, the Celery dispatcher) goes through
`db.transaction`, and the job engine's short writes through `kit.writes`. A `.commit()`
anywhere else is a service deciding for its caller when the unit of work ends. Read from the
source with `ast`, so nothing is imported to check it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import foredeck

ROOT = Path(foredeck.__file__).parent
# The modules that own transactions, as paths under src/foredeck; a folder stands for
# everything in it.
OWNERS = {
    "db.py": "db.transaction, the unit of work of every edge outside requests and jobs",
    "kit/deps.py": "the request's session, committed before the response is sent",
    "jobs/context.py": "JobContext: a job's writes, committed only while its attempt is current",
    "kit/writes.py": "the job engine's one-call writes behind the SQLite write guard",
    "migrations/env.py": "Alembic's migration run",
    "operations/imports": "a bulk import commits per chunk, so a large one never holds one lock",
}


def _owner(rel: str) -> str | None:
    for owner in OWNERS:
        if rel == owner or rel.startswith(owner.rstrip("/") + "/"):
            return owner
    return None


def _commits(path: Path) -> list[int]:
    """Lines of path that call `<anything>.commit()`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return sorted(
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
    )


def _scan() -> tuple[list[str], set[str]]:
    outside: list[str] = []
    used: set[str] = set()
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        lines = _commits(path)
        if not lines:
            continue
        owner = _owner(rel)
        if owner is None:
            outside.extend(f"{rel}:{line}" for line in lines)
        else:
            used.add(owner)
    return outside, used


def test_only_transaction_owners_commit() -> None:
    outside, _ = _scan()
    assert not outside, (
        "commit() outside the transaction owners; take a session from the caller (or, at an "
        f"edge, use db.transaction): {outside}"
    )


def test_every_listed_owner_still_commits() -> None:
    # An owner that no longer commits leaves the list, so it only names real edges.
    _, used = _scan()
    assert set(OWNERS) - used == set()


def test_the_scan_sees_every_commit(tmp_path: Path) -> None:
    source = tmp_path / "service.py"
    source.write_text(
        "async def f(session, conn):\n"
        "    await session.commit()\n"
        "    async with maker() as s:\n"
        "        await s.commit()\n"
        "    conn.commit()\n"
        "    await session.flush()\n"
    )
    assert _commits(source) == [2, 4, 5]
    assert _owner("operations/imports/run.py") == "operations/imports"
    assert _owner("operations/importsx.py") is None
    assert _owner("index/service.py") is None
