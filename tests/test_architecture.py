"""The import graph keeps the layers of docs/architecture.md: arrows that must never exist.

Read from the source with `ast` (every import, also those inside functions and under
TYPE_CHECKING: a reader follows them all), so nothing is imported to check it.

    floor   config, errors, logging, db, dbtext, models, blobs, migrations
    kit     generic web and background helpers
    engine  jobs, then workers, on kit, models, db, errors and logging only (workers import
            jobs, never the other way)
    domains auth, records, settings, index, ... (everything else)
    faces   console, cli, mcp, and the API contracts and client they publish
    app     the composition root that wires all of it (app, and kinds: every job kind)

A layer imports only the layers below it. Faces are imported by nothing but faces and `app`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import foredeck

ROOT = Path(foredeck.__file__).parent
FLOOR = {"foredeck", "config", "errors", "logging", "db", "dbtext", "models", "blobs"}
FLOOR |= {"migrate", "migrations"}
KIT = {"kit"}
ENGINE_FLOOR = {"foredeck", "errors", "logging", "db", "models"}
ENGINE = {"jobs", "workers"}
FACES = {"console", "cli", "mcp", "client", "contracts"}
APP = {"app", "kinds"}
DOMAINS = {
    "auth",
    "records",
    "system",
    "settings",
    "embedding",
    "index",
    "telemetry",
    "operations",
    "generator",
    "registry",
    "schedules",
}
ALLOWED = {
    "floor": FLOOR,
    "kit": FLOOR | KIT,
    # The engine stands on less than the whole floor: issue 22's kit, models, db, errors, logging.
    "jobs": ENGINE_FLOOR | KIT | {"jobs"},
    "workers": ENGINE_FLOOR | KIT | ENGINE,
    "domain": FLOOR | KIT | ENGINE | DOMAINS,
    "face": FLOOR | KIT | ENGINE | DOMAINS | FACES | APP,
    "app": FLOOR | KIT | ENGINE | DOMAINS | FACES | APP,
}
# Arrows still to remove (issue 22), each exactly as it stands: (importing module, imported
# module). The test fails when one appears that is not listed, and when a listed one is gone,
# so this list only shrinks.
KNOWN_DEBT: set[tuple[str, str]] = set()
# Packages that import each other round a loop (issue 22 asks for none).
KNOWN_LOOPS: set[frozenset[str]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            # `from foredeck.jobs import controls` imports the module foredeck.jobs.controls.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "foredeck" or name.startswith("foredeck.")}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "foredeck"


def _layer(top: str) -> str:
    for layer, members in (("floor", FLOOR), ("kit", KIT), ("face", FACES), ("app", APP)):
        if top in members:
            return layer
    if top in ENGINE:
        return top
    return "domain"


def _modules() -> dict[str, set[str]]:
    known = {_module_name(p) for p in ROOT.rglob("*.py")}
    graph = {}
    for path in sorted(ROOT.rglob("*.py")):
        module = _module_name(path)
        # Only names that are modules: `from foredeck.jobs import service` is foredeck.jobs
        # and foredeck.jobs.service; `from foredeck.errors import NotFound` is foredeck.errors.
        graph[module] = {name for name in _imports(path, module) if name in known}
    return graph


def _forbidden_arrows() -> set[tuple[str, str]]:
    arrows = set()
    for module, imported in _modules().items():
        allowed = ALLOWED[_layer(_top(module))]
        for target in imported:
            if _top(target) != _top(module) and _top(target) not in allowed:
                arrows.add((module, target))
    return arrows


def test_every_package_has_a_layer() -> None:
    tops = {_top(_module_name(p)) for p in ROOT.rglob("*.py")}
    unplaced = tops - FLOOR - KIT - ENGINE - FACES - APP - DOMAINS
    assert not unplaced, f"place these packages in a layer of this test: {sorted(unplaced)}"


def test_no_forbidden_arrow() -> None:
    arrows = _forbidden_arrows()
    new = sorted(arrows - KNOWN_DEBT)
    assert not new, "imports against the layers (see docs/architecture.md):\n" + "\n".join(
        f"  {a} -> {b}" for a, b in new
    )


def test_known_debt_is_still_owed() -> None:
    paid = sorted(KNOWN_DEBT - _forbidden_arrows())
    assert not paid, f"these arrows are gone: remove them from KNOWN_DEBT: {paid}"


def _package_loops() -> set[frozenset[str]]:
    """The strongly connected groups of the package graph (Tarjan), two packages or more."""
    edges: dict[str, set[str]] = {}
    for module, imported in _modules().items():
        edges.setdefault(_top(module), set()).update(
            _top(t) for t in imported if _top(t) != _top(module)
        )
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: set[frozenset[str]] = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                loops.add(frozenset(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return loops


def test_no_new_package_loop() -> None:
    loops = _package_loops()
    assert loops == KNOWN_LOOPS, (
        f"package loops now: {sorted(sorted(g) for g in loops)}; a new one is a layering "
        "mistake, a smaller or missing one means KNOWN_LOOPS can shrink"
    )


def test_forbidden_arrows_are_found() -> None:
    # The checker itself: a made-up module of each kind, with the arrow it must refuse.
    cases = {
        "foredeck.jobs.x": "foredeck.workers.service",
        "foredeck.workers.x": "foredeck.settings.service",
        "foredeck.jobs.y": "foredeck.config",
        "foredeck.kit.x": "foredeck.auth.deps",
        "foredeck.db": "foredeck.kit.deps",
        "foredeck.index.x": "foredeck.console.data",
        "foredeck.records.x": "foredeck.app",
    }
    for module, target in cases.items():
        assert _top(target) not in ALLOWED[_layer(_top(module))], (module, target)
    assert _top("foredeck.kit.tasks") in ALLOWED[_layer("workers")]
    assert _top("foredeck.jobs.controls") in ALLOWED[_layer("workers")]
