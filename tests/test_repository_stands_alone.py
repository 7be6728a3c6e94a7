"""The repository stands alone: a clone placed anywhere passes its tests.

The recorded upstream samples used to be read from a folder beside the repository,
outside it: on a plain clone 75 tests failed. They live in tests/fixtures/upstream now.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import UPSTREAM_SAMPLES
from tests.support.processes import REPO

# A path that leaves the repository for the old samples folder, however it is spelled.
OUTSIDE = re.compile(r"\.\./shared|upstream-samples|parents\[\d\]\.parent\s*/\s*\"shared\"")


def _repository_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [REPO / name for name in listed if (REPO / name).is_file()]


def test_no_file_points_outside_the_repository_for_samples() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in _repository_files()
        if path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not offenders, "\n".join(offenders)


def test_every_sample_has_its_source() -> None:
    samples = sorted(UPSTREAM_SAMPLES.glob("*.json"))
    assert len(samples) >= 30
    missing = [p.name for p in samples if not p.with_suffix(".source.txt").is_file()]
    assert not missing


@pytest.mark.slow
def test_sample_reading_tests_pass_in_a_copy_with_nothing_beside_it(
    tmp_path: Path, settings: Any
) -> None:
    alone = tmp_path / "elsewhere" / "cryptotrack"
    for path in _repository_files():
        target = alone / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    assert not (alone.parent / "shared").exists()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    # The copy has no var/secrets.env (make install writes it); the keys are not what is tested.
    env["SECRET_KEY"] = settings.SECRET_KEY
    env["CREDENTIALS_ENCRYPTION_KEYS"] = ",".join(settings.CREDENTIALS_ENCRYPTION_KEYS)

    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "tests/exchanges/test_kucoin_parsing.py",
            "tests/exchanges/test_alphavantage_parsing.py",
            "tests/test_repository_stands_alone.py::test_every_sample_has_its_source",
        ],
        cwd=alone, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
