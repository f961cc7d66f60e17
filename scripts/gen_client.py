"""Write src/foredeck/contracts.py and src/foredeck/client/_generated.py from the app.

Run after adding or changing an endpoint:  .venv/bin/python scripts/gen_client.py
`--check` exits 1 when the committed files differ from what would be written (used by tests).
"""

from __future__ import annotations

import argparse
import enum
import importlib
import pkgutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from client_bodies import bodies, form_fields, json_model, model_input, optional
from client_types import Namer, render_type, schema_type, walk_types
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ROOT / "src/foredeck/contracts.py"
GENERATED = ROOT / "src/foredeck/client/_generated.py"

# Always part of the contracts, whatever the routes use.
# kit.roles: the roles are a contract (user and API key bodies), defined below auth for the gates.
BASE_MODULES = ["foredeck.kit.envelope", "foredeck.kit.roles", "foredeck.kit.schemas"]


def _schema_modules() -> list[str]:
    import foredeck

    names = []
    for info in pkgutil.iter_modules(foredeck.__path__):
        if not info.ispkg or info.name in ("client", "migrations"):
            continue
        candidate = f"foredeck.{info.name}.schemas"
        try:
            importlib.import_module(candidate)
        except ModuleNotFoundError as exc:
            if exc.name != candidate:
                raise
            continue
        names.append(candidate)
    return sorted(names)


def _exported(module_name: str) -> list[type]:
    module = importlib.import_module(module_name)
    out = []
    for value in vars(module).values():
        if not isinstance(value, type) or value.__module__ != module_name:
            continue
        if issubclass(value, BaseModel) and "[" not in value.__name__:
            out.append(value)
        elif issubclass(value, enum.Enum):
            out.append(value)
    return sorted(out, key=lambda c: c.__name__)


def _result(op: Any, namer: Namer, imports: set[str]) -> tuple[str, str, bool]:
    """(return annotation, runtime type expression, unwrap the envelope's data)."""
    if op.response_kind == "empty":
        return "None", "None", False
    if op.response_kind == "raw":
        return "httpx.Response", "None", False
    model = op.response_model
    if model is None:
        return "Any", "None", False
    meta = getattr(model, "__pydantic_generic_metadata__", None) or {}
    origin = meta.get("origin")
    unwrap = origin is not None and origin.__name__ == "Envelope"
    target = meta["args"][0] if unwrap else model
    annotation = render_type(target, namer, imports)
    namer.runtime = True
    try:
        expr = render_type(target, namer, imports)
    finally:
        namer.runtime = False
    return annotation, expr, unwrap


def _method(op: Any, namer: Namer, imports: set[str], *, is_async: bool) -> str:
    args = ["self"]
    path_args = [p for p in op.params if p.location == "path"]
    query = [p for p in op.params if p.location == "query"]
    for p in path_args:
        args.append(f"{p.ident}: {schema_type(p.schema, imports)}")
    json_schema, form = bodies(op)
    model = json_model(op, json_schema, namer) if json_schema is not None else None
    form_pos: list[str] = []
    form_kw: list[str] = []
    uploads: list[str] = []
    values: list[str] = []
    if form is not None:
        form_pos, form_kw, uploads, values = form_fields(
            form, model, json_schema is None, namer, imports
        )
        imports.add("Upload")
    args.extend(form_pos)
    if json_schema is not None:
        body_t = model_input(model, namer, imports)
        may_omit = form is not None or not op.body_required
        args.append(f"body: {optional(body_t)} = None" if may_omit else f"body: {body_t}")
    kw = []
    for p in query:
        ptype = schema_type(p.schema, imports)
        if p.required:
            kw.append(f"{p.ident}: {ptype}")
        else:
            if "None" not in ptype.split(" | "):
                ptype += " | None"
            kw.append(f"{p.ident}: {ptype} = None")
    kw.extend(form_kw)
    ret, expr, unwrap = _result(op, namer, imports)
    download = op.response_kind == "raw" and not op.stream
    if download:
        kw.append("to: Destination | None = None")
        kw.append("progress: Progress | None = None")
        imports.update(("Destination", "Progress"))
    if kw:
        args.append("*")
        args.extend(kw)
    names = [a.split(":")[0] for a in args]
    if len(set(names)) != len(names):
        raise SystemExit(f"{op.name}: two parameters share a name in {names}")
    sig = ", ".join(args)
    doc = (op.summary or op.description or op.name).strip().splitlines()[0].replace('"', "'")
    doc = f"{doc} ({op.method} {op.path})"
    if form is not None and json_schema is not None:
        given = " or ".join(f"`{u.split(': ')[1]}`" for u in uploads)
        doc += f"; with {given} it is sent as multipart/form-data"
    if download:
        doc += "; `to=` streams the body to a path or file object"
    path_map = ", ".join(f"{p.name!r}: {p.ident}" for p in path_args)
    query_map = ", ".join(f"{p.name!r}: {p.ident}" for p in query)
    call = [
        f"{op.method!r}",
        f"{op.path!r}",
        f"path={{{path_map}}}",
        f"query={{{query_map}}}",
    ]
    if json_schema is not None:
        call.append("json=body")
    if form is not None:
        call.append(f"upload={{{', '.join(uploads)}}}")
        call.append(f"form={{{', '.join(values)}}}")
    call.append(f"result={expr}")
    if unwrap:
        call.append("unwrap=True")
    call.append(f"kind={op.response_kind!r}")
    if download:
        call.extend(("to=to", "progress=progress"))
    prefix = "async def" if is_async else "def"
    awaiting = "await " if is_async else ""
    lines = [
        f"    {prefix} {op.name}({sig}) -> {ret}:",
        f'        """{doc}"""',
        f"        return {awaiting}self._call({', '.join(call)})",
    ]
    return "\n".join(lines)


def build() -> tuple[str, str]:
    """The text of contracts.py and client/_generated.py."""
    from foredeck.app import create_app
    from foredeck.config import Config
    from foredeck.mcp.operations import collect

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Config(data_dir=Path(tmp)))
        # Sorted by name, so moving a router in app.py does not reshuffle the file.
        ops = sorted(collect(app), key=lambda op: op.name)

    namer = Namer()
    modules = BASE_MODULES + _schema_modules()
    for mod in modules:
        for cls in _exported(mod):
            namer.add(cls)
    used: set[type] = set()
    for op in ops:
        walk_types(op.body_type, used)
        walk_types(op.response_model, used)
    for cls in sorted(used, key=lambda c: (c.__module__, c.__name__)):
        namer.add(cls)

    by_module: dict[str, list[tuple[str, str]]] = {}
    for cls, name in namer.names.items():
        by_module.setdefault(cls.__module__, []).append((cls.__name__, name))
        if not cls.__module__.endswith(".schemas") and cls.__module__ not in BASE_MODULES:
            namer.lazy.add(name)
    lines = [
        '"""Every request and response model of the foredeck API, importable in one place.',
        "",
        "Generated by scripts/gen_client.py from the routes of the app and the schemas modules",
        "of the domains; do not edit by hand. Pydantic models (DTOs), separate from the ORM.",
        '"""',
        "",
        "# ruff: noqa: I001, F401, RUF100",
        "from typing import TYPE_CHECKING, Any",
        "",
    ]
    exported = []
    lazy_lines: list[str] = []
    lazy_map: list[str] = []
    for mod in sorted(by_module):
        items = sorted(by_module[mod], key=lambda t: t[1])
        parts = [orig if orig == name else f"{orig} as {name}" for orig, name in items]
        exported.extend(name for _, name in items)
        lazy = all(name in namer.lazy for _, name in items)
        target = lazy_lines if lazy else lines
        indent = "    " if lazy else ""
        target.append(f"{indent}from {mod} import (")
        target.extend(f"{indent}    {p}," for p in parts)
        target.append(f"{indent})")
        if lazy:
            lazy_map.extend(f'    "{name}": ("{mod}", "{orig}"),' for orig, name in items)
    lines.append("")
    if lazy_lines:
        lines.append("if TYPE_CHECKING:")
        lines.extend(lazy_lines)
        lines.append("")
    lines.append("# Models defined in router modules, imported on first use so that importing the")
    lines.append("# contracts does not load the server side (SQLAlchemy, services).")
    lines.append("_LAZY: dict[str, tuple[str, str]] = {")
    lines.extend(lazy_map)
    lines.append("}")
    lines.append("")
    lines.append("")
    lines.append("def __getattr__(name: str) -> Any:")
    lines.append("    if name not in _LAZY:")
    lines.append('        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")')
    lines.append("    import importlib")
    lines.append("")
    lines.append("    module, original = _LAZY[name]")
    lines.append("    return getattr(importlib.import_module(module), original)")
    lines.append("")
    lines.append("")
    lines.append("__all__ = [")
    lines.extend(f'    "{n}",' for n in sorted(exported))
    lines.append("]")
    contracts = "\n".join(lines) + "\n"

    imports: set[str] = set()
    sync_methods = [_method(op, namer, imports, is_async=False) for op in ops]
    async_methods = [_method(op, namer, imports, is_async=True) for op in ops]
    # Upload, Destination and Progress: the types of file parameters (client/transfer.py).
    names = sorted(i for i in imports if not i.startswith(("from ", "import ")))
    transfer = [f"from foredeck.client.transfer import {', '.join(names)}"] if names else []
    body = [
        '"""One typed method per API operation.',
        "",
        'Generated by scripts/gen_client.py; do not edit."""',
        "",
        "# ruff: noqa: E501, I001, RUF100",
        "from __future__ import annotations",
        "",
        "from typing import Any, Literal",
        "",
        "import httpx",
        *sorted(i for i in imports if i.startswith(("from ", "import "))),
        *transfer,
        "",
        "from typing import TYPE_CHECKING",
        "",
        "from foredeck import contracts as _contracts",
        "from foredeck.contracts import (",
        *(f"    {n}," for n in sorted(namer.rendered - namer.lazy)),
        ")",
        "",
        "if TYPE_CHECKING:",
        "    from foredeck.contracts import (",
        *(f"        {n}," for n in sorted(namer.rendered & namer.lazy) or ["Envelope"]),
        "    )",
        "",
        "OPERATIONS: dict[str, tuple[str, str]] = {",
        *(f"    {op.name!r}: ({op.method!r}, {op.path!r})," for op in ops),
        "}",
        "",
        "",
        "class SyncOperations:",
        "    def _call(self, *args: Any, **kwargs: Any) -> Any:",
        "        raise NotImplementedError",
        "",
        "\n\n".join(sync_methods),
        "",
        "",
        "class AsyncOperations:",
        "    async def _call(self, *args: Any, **kwargs: Any) -> Any:",
        "        raise NotImplementedError",
        "",
        "\n\n".join(async_methods),
        "",
        "",
        "__all__ = ['OPERATIONS', 'AsyncOperations', 'Literal', 'SyncOperations', 'httpx']",
        "",
    ]
    generated = "\n".join(body)
    return contracts, generated


def _format(text: str, name: str) -> str:
    import subprocess

    ruff = Path(sys.executable).parent / "ruff"
    done = subprocess.run(
        [str(ruff), "format", "--stdin-filename", name, "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args()
    contracts, generated = build()
    contracts = _format(contracts, str(CONTRACTS))
    generated = _format(generated, str(GENERATED))
    stale = [
        path
        for path, text in ((CONTRACTS, contracts), (GENERATED, generated))
        if not path.exists() or path.read_text() != text
    ]
    if args.check:
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)} (run scripts/gen_client.py)")
        return 1 if stale else 0
    for path, text in ((CONTRACTS, contracts), (GENERATED, generated)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {CONTRACTS.relative_to(ROOT)} and {GENERATED.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
