"""The deployment files agree with each other: Procfile, docker-compose.yml, Dockerfile.

No Docker engine runs on the machines that build this project, so nothing here starts a
container. Instead: docker-compose.yml is validated against the Compose Specification's
own JSON schema (vendored in deploy/compose-spec.json), every service runs its Procfile
line verbatim, and the Dockerfile's default command is the Procfile's ``web``. That the
Procfile's commands really run the production topology is
tests/test_production_topology.py's job.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import jsonschema
import pytest
import yaml

from tests.support.processes import REPO
from tests.support.procfile import read_procfile

# The services that run our image, by the Procfile entry each one runs.
APP_SERVICES = {"release": "release", "web": "web", "worker": "worker", "beat": "beat"}


@pytest.fixture(scope="module")
def procfile() -> dict[str, str]:
    return read_procfile()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"]
    return found


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, arguments = line.strip().partition(" ")
            instructions.append((keyword.upper(), " ".join(arguments.split())))
    return instructions


def test_procfile_declares_release_web_worker_and_beat(procfile: dict[str, str]) -> None:
    assert list(procfile) == ["release", "web", "worker", "beat"]
    assert procfile["web"].startswith("uvicorn cryptotrack.asgi:application ")
    assert "--workers" in procfile["web"]
    assert "${PORT" in procfile["web"]
    assert procfile["worker"].startswith("celery -A cryptotrack worker ")
    assert procfile["beat"].startswith("celery -A cryptotrack beat ")


def test_long_running_commands_need_no_shell(procfile: dict[str, str]) -> None:
    """Compose runs a string command without a shell (only ${VAR} is filled in): the lines
    of web, worker and beat must be plain argument lists."""
    for entry in ("web", "worker", "beat"):
        assert not re.search(r"[;&|<>`]|\$\(", procfile[entry]), procfile[entry]


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads((REPO / "deploy" / "compose-spec.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(
        jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path)
    )
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_validation_catches_a_broken_compose_file(compose: dict[str, Any]) -> None:
    """The schema check is not vacuous: a typo in a service key is an error."""
    schema = json.loads((REPO / "deploy" / "compose-spec.json").read_text())
    broken = json.loads(json.dumps(compose))
    broken["services"]["web"]["comand"] = broken["services"]["web"].pop("command")
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


def test_compose_services_run_the_procfile_commands_verbatim(
    services: dict[str, Any], procfile: dict[str, str]
) -> None:
    for service, entry in APP_SERVICES.items():
        command = services[service]["command"]
        if entry == "release":  # `&&` needs a shell; it is a one-off, signals do not matter
            assert command == ["sh", "-c", procfile[entry]]
        else:
            assert command == procfile[entry], service


def test_every_variable_the_commands_use_is_listed_in_env_example(
    procfile: dict[str, str],
) -> None:
    """Compose fills ${VAR:-default} from .env, so each one must be documented there."""
    listed = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", (REPO / ".env.example").read_text(), re.M))
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", " ".join(procfile.values())))
    assert used
    assert used <= listed, used - listed


def test_compose_runs_several_workers_and_exactly_one_beat(services: dict[str, Any]) -> None:
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "ports" not in services["worker"]
    assert "ports" not in services["beat"]


def test_app_services_are_production_and_wait_for_their_dependencies(
    services: dict[str, Any],
) -> None:
    for service in APP_SERVICES:
        config = services[service]
        assert config["env_file"] == ".env"
        assert config["environment"]["ENVIRONMENT"] == "production"
        assert config["environment"]["DATABASE_URL"].startswith("postgres://")
        assert config["environment"]["REDIS_URL"].startswith("redis://redis:")
        depends = config["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        if service != "release":
            assert depends["release"]["condition"] == "service_completed_successfully"


def test_health_checks_and_volumes(compose: dict[str, Any], services: dict[str, Any]) -> None:
    web_check = " ".join(services["web"]["healthcheck"]["test"])
    assert "/readyz" in web_check
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    data = [v for v in services["postgres"]["volumes"] if v.endswith(":/var/lib/postgresql/data")]
    assert data
    assert data[0].split(":")[0] in compose["volumes"]


def test_dockerfile_builds_the_locked_environment_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = [arguments for keyword, arguments in instructions if keyword == "RUN"]
    assert any(re.search(r"pip install .*\buv==", run) for run in runs)
    assert any(run.startswith("uv sync --frozen --no-dev") for run in runs)
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users
    assert users[-1] not in {"root", "0"}
    copied = " ".join(arguments for keyword, arguments in instructions if keyword == "COPY")
    assert "Procfile" in copied
    assert "uv.lock" in copied


def test_dockerfile_default_command_is_the_procfile_web_line(procfile: dict[str, str]) -> None:
    commands = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "CMD"]
    assert len(commands) == 1
    # Shell form, so ${PORT:-8000} is filled in at run time; `exec` makes uvicorn PID 1's
    # child-free replacement, the process that receives `docker stop`'s SIGTERM.
    assert commands[0] == f"exec {procfile['web']}"
    assert shlex.split(commands[0])[1] == "uvicorn"
