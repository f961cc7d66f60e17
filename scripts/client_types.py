"""Python type expressions for the generated client: annotations, JSON schemas, names."""

from __future__ import annotations

import enum
import types
import typing
from typing import Any

from pydantic import BaseModel


def walk_types(tp: Any, found: set[type]) -> None:
    """Collect the classes a (possibly generic) annotation refers to."""
    if tp is None:
        return
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        meta = getattr(tp, "__pydantic_generic_metadata__", None) or {}
        if meta.get("origin") is not None:
            walk_types(meta["origin"], found)
            for arg in meta.get("args", ()):
                walk_types(arg, found)
            return
        found.add(tp)
        return
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        found.add(tp)
        return
    for arg in typing.get_args(tp):
        walk_types(arg, found)


class Namer:
    """Contract names for classes; a clash gets the domain's name in front."""

    def __init__(self) -> None:
        self.names: dict[type, str] = {}
        self.used: dict[str, type] = {}
        self.rendered: set[str] = set()
        # Names whose module is a router (it imports the server side): loaded on first use.
        self.lazy: set[str] = set()
        self.runtime = False

    def add(self, cls: type) -> None:
        if cls in self.names:
            return
        name = cls.__name__
        if name in self.used and self.used[name] is not cls:
            domain = cls.__module__.split(".")[1]
            name = domain.capitalize() + name
        self.names[cls] = name
        self.used[name] = cls

    def ref(self, cls: type) -> str:
        name = self.names.get(cls)
        if name is None:
            return "Any"
        self.rendered.add(name)
        if self.runtime and name in self.lazy:
            return f"_contracts.{name}"
        return name


def render_type(tp: Any, namer: Namer, imports: set[str]) -> str:
    """A Python expression for an annotation, using contract names."""
    if tp is None or tp is type(None):
        return "None"
    if tp is Any:
        return "Any"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        meta = getattr(tp, "__pydantic_generic_metadata__", None) or {}
        if meta.get("origin") is not None:
            args = ", ".join(render_type(a, namer, imports) for a in meta["args"])
            return f"{render_type(meta['origin'], namer, imports)}[{args}]"
        return namer.ref(tp)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return namer.ref(tp)
    if tp in (int, str, float, bool, bytes):
        return tp.__name__
    if isinstance(tp, type) and tp.__module__ == "datetime":
        imports.add(f"from datetime import {tp.__name__}")
        return tp.__name__
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return render_type(args[0], namer, imports)
    if origin is typing.Literal:
        return "Literal[" + ", ".join(repr(a) for a in args) + "]"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(render_type(a, namer, imports) for a in args)
    if origin in (list, set, tuple, dict, frozenset):
        inner = ", ".join(render_type(a, namer, imports) for a in args)
        return f"{origin.__name__}[{inner}]" if args else origin.__name__
    return "Any"


def schema_type(schema: dict[str, Any], imports: set[str]) -> str:
    """A Python annotation for a parameter's JSON schema."""
    if "anyOf" in schema:
        parts = [schema_type(s, imports) for s in schema["anyOf"]]
        return " | ".join(dict.fromkeys(parts))
    if "enum" in schema:
        return "Literal[" + ", ".join(repr(v) for v in schema["enum"]) + "]"
    if "const" in schema:
        return f"Literal[{schema['const']!r}]"
    kind = schema.get("type")
    if kind == "string" and schema.get("format") == "date-time":
        imports.add("from datetime import datetime")
        return "datetime"
    if kind == "array":
        return f"list[{schema_type(schema.get('items', {}), imports)}]"
    simple = {
        "integer": "int",
        "string": "str",
        "boolean": "bool",
        "number": "float",
        "null": "None",
        "object": "dict[str, Any]",
    }
    return simple.get(kind or "", "Any")
