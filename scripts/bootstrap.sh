#!/usr/bin/env bash
# Install what the project needs into .venv (idempotent, quiet when nothing changed).
# uv itself lives in .tools/uv, installed from PyPI with the machine's Python 3.11+.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "cryptotrack needs Python >= 3.11 (found: $("$PYTHON" --version 2>&1))" >&2
    exit 1
fi
if [ ! -x .tools/uv/bin/uv ]; then
    echo "==> installing uv into .tools/uv"
    "$PYTHON" -m venv .tools/uv
    .tools/uv/bin/pip install --quiet --disable-pip-version-check "uv>=0.9,<1"
fi
# --frozen: exactly what uv.lock says; the project itself is installed editable.
UV_PYTHON="$PYTHON" .tools/uv/bin/uv sync --frozen --quiet "$@"
# The embedded default's generated keys (var/secrets.env), which settings only read.
.venv/bin/python -c 'from cryptotrack.config import prepare_var_dir; prepare_var_dir()'
