"""The Procfile: read its entries, and run one the way Procfile runners do.

Heroku, Dokku, honcho and foreman run each line through a shell from the project root, so
``${PORT:-8000}`` and friends come from the process environment. :class:`ProcfileProcess`
does exactly that, so a test started from it runs the very command production runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from tests.support.processes import REPO, ManagedProcess

PROCFILE = REPO / "Procfile"
_ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9_-]+):\s*(?P<command>\S.*)$")


def read_procfile(path: Path = PROCFILE) -> dict[str, str]:
    """``{process type: command}`` in file order; comments and blank lines are skipped."""
    entries: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENTRY.match(line)
        if match is None:
            raise ValueError(f"{path}:{number}: not a Procfile entry: {line!r}")
        name = match["name"]
        if name in entries:
            raise ValueError(f"{path}:{number}: process type {name!r} defined twice")
        entries[name] = match["command"].strip()
    return entries


class ProcfileProcess(ManagedProcess):
    """One Procfile entry as a subprocess: ``/bin/sh -c "<line>"`` in the project root.

    It runs in a process group of its own, so :meth:`kill` takes the shell, the server
    and every child it forked (uvicorn's workers, Celery's pool) down together.
    """

    def __init__(self, entry: str, *, env: Mapping[str, str], name: str | None = None) -> None:
        self.entry = entry
        self.command = read_procfile()[entry]
        super().__init__(["/bin/sh", "-c", self.command], env=env, name=name or entry)
