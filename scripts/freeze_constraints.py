"""Pin what foredeck needs into constraints.txt, which `make` installs with.

The pins are the versions installed in .venv, limited to foredeck's own dependency tree (every
extra included), so a stray package in .venv never becomes a pin. Run it with .venv's Python
after adding or upgrading a dependency in pyproject.toml and installing it.
"""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _closure(roots: list[Requirement]) -> dict[str, str]:
    """Installed name -> version for these requirements and everything they require."""
    seen: dict[str, str] = {}
    todo: list[tuple[str, set[str]]] = [(r.name, set(r.extras)) for r in roots]
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        current, wanted = todo.pop()
        key = (canonicalize_name(current), frozenset(wanted))
        if key in done:
            continue
        done.add(key)
        try:
            dist = metadata.distribution(current)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency for another platform or Python
        seen[dist.metadata["Name"]] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            envs = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((req.name, set(req.extras)))
    return seen


def main() -> None:
    # pyproject.toml itself, not the installed metadata, which is as old as the last install.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for group in project.get("optional-dependencies", {}).values():
        lines.extend(group)
    roots = [r for r in map(Requirement, lines) if r.marker is None or r.marker.evaluate()]
    pins = _closure(roots)
    lines = [
        "# Exact versions `make` installs (pip install -c constraints.txt); written by",
        "# scripts/freeze_constraints.py from .venv after a dependency changes in pyproject.toml.",
    ]
    for name in sorted(pins, key=str.lower):
        # torch's CPU build carries a local label ("+cpu") that "==" matches without it.
        lines.append(f"{name}=={pins[name].split('+')[0]}")
    (ROOT / "constraints.txt").write_text("\n".join(lines) + "\n")
    print(f"wrote constraints.txt ({len(pins)} packages)", file=sys.stderr)


if __name__ == "__main__":
    main()
