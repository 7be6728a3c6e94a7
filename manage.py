#!/usr/bin/env python3
"""Django's command-line utility (same as ``python -m cryptotrack``).

``./manage.py …`` works without activating the virtual environment: run by any other
Python, it re-executes itself with the project's ``.venv/bin/python`` (``make install``).
"""

import os
import sys
from pathlib import Path

VENV_PYTHON = Path(__file__).resolve().parent / ".venv" / "bin" / "python"

if __name__ == "__main__":
    if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != VENV_PYTHON.parent.parent.resolve():
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), *sys.argv])  # noqa: S606 - our own venv
    from cryptotrack.__main__ import main

    main()
