"""Run the benchmarks: ``python -m bench [NAME ...] [-- ARGS]``.

Each benchmark is a module ``bench/<name>.py`` with ``main(argv: list[str]) -> None`` that
prints its figures. With no name, every benchmark runs with its default arguments.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    return sorted(
        module.name
        for module in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not module.name.startswith("_")
    )


def main() -> None:
    args = sys.argv[1:]
    names, extra = (
        (args[: args.index("--")], args[args.index("--") + 1 :]) if "--" in args else (args, [])
    )
    unknown = set(names) - set(available())
    if unknown:
        sys.exit(f"unknown benchmark(s) {sorted(unknown)}; available: {available()}")
    for name in names or available():
        print(f"=== bench {name}", flush=True)
        importlib.import_module(f"bench.{name}").main(extra)


if __name__ == "__main__":
    main()
