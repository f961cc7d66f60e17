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


def _sqlalchemy_imports(path: Path) -> list[str]:
    """Each sqlalchemy import of a file, but `from sqlalchemy.ext.asyncio import AsyncSession`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "sqlalchemy"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            names = [a.name for a in node.names]
            if node.module != "sqlalchemy.ext.asyncio" or names != ["AsyncSession"]:
                found.append(f"{node.module}: {', '.join(names)}")
    return found


def test_console_runs_no_sql() -> None:
    # The console is a face: its queries belong to the domains that own the tables, and it
    # hands them the request's session, which it may name as a type and nothing more.
    offenders = {
        _module_name(path): found
        for path in sorted((ROOT / "console").rglob("*.py"))
        if (found := _sqlalchemy_imports(path))
    }
    assert not offenders, f"the console imports sqlalchemy beyond AsyncSession: {offenders}"


def test_sqlalchemy_imports_are_found(tmp_path: Path) -> None:
    # The checker itself: the type alone passes, anything that builds a query does not.
    source = tmp_path / "page.py"
    source.write_text(
        "from sqlalchemy.ext.asyncio import AsyncSession\n"
        "def f():\n    from sqlalchemy import func, select\n"
        "import sqlalchemy.orm\n"
        "from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker\n",
        encoding="utf-8",
    )
    assert sorted(_sqlalchemy_imports(source)) == [
        "sqlalchemy.ext.asyncio: AsyncSession, async_sessionmaker",
        "sqlalchemy.orm",
        "sqlalchemy: func, select",
    ]


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


def _is_app(node: ast.expr) -> bool:
    """`app`, `request.app`, `self.fastapi_app`...: an expression that names the ASGI app."""
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return name == "app" or name.endswith("_app")


def _state_bag_uses(path: Path) -> list[str]:
    """What reaches past the typed Runtime: `app.state.<x>` other than `app.state.runtime`,
    getattr on an app's state, and a parameter called `state` typed `Any`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "state"
            and _is_app(node.value.value)
            and node.attr != "runtime"
        ):
            found.append(f"{path.name}:{node.lineno} app.state.{node.attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr")
            and node.args
            and isinstance(node.args[0], ast.Attribute)
            and node.args[0].attr == "state"
            and _is_app(node.args[0].value)
        ):
            found.append(f"{path.name}:{node.lineno} {node.func.id}(app.state, ...)")
        elif (
            isinstance(node, ast.arg)
            and node.arg in ("state", "runtime")
            and isinstance(node.annotation, ast.Name)
            and node.annotation.id == "Any"
        ):
            found.append(f"{path.name}:{node.lineno} {node.arg}: Any")
    return found


def test_the_runtime_is_typed() -> None:
    # Every long-lived object is reached through foredeck.kit.runtime.Runtime: its attributes
    # and typed parts, which mypy follows. app.state holds nothing but the runtime.
    uses = [use for path in sorted(ROOT.rglob("*.py")) for use in _state_bag_uses(path)]
    assert not uses, "use the typed Runtime (foredeck.kit.runtime) instead:\n" + "\n".join(uses)


def test_state_bag_uses_are_found(tmp_path: Path) -> None:
    source = tmp_path / "handler.py"
    source.write_text(
        "def f(request, state: Any, runtime: Runtime):\n"
        "    request.app.state.runtime\n"
        "    request.app.state.sessionmaker\n"
        "    getattr(self.fastapi_app.state, 'pubsub', None)\n"
        "    request.state.principal\n",
        encoding="utf-8",
    )
    assert _state_bag_uses(source) == [
        "handler.py:1 state: Any",
        "handler.py:3 app.state.sessionmaker",
        "handler.py:4 getattr(app.state, ...)",
    ]
