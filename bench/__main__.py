"""Run every benchmark module in bench/ in turn."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

if __name__ == "__main__":
    names = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not m.name.startswith("_")
    )
    # `python -m bench import --full`: names pick the benchmarks, flags go to each of them.
    only = [a for a in sys.argv[1:] if a in names]
    sys.argv = [sys.argv[0], *(a for a in sys.argv[1:] if a not in names)]
    for name in names:
        if only and name not in only:
            continue
        print(f"== bench.{name}", flush=True)
        importlib.import_module(f"bench.{name}").main()
