"""The Postman collection in docs/postman is what scripts/generate_postman.py makes of the
current OpenAPI schema — so it cannot go stale — and the generator refuses a walkthrough
the schema does not document. (Running it with newman against the real topology is
tests/test_production_topology.py's job.)"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from types import ModuleType
from typing import Any

import pytest

from tests.support.processes import REPO

SCRIPT = REPO / "scripts" / "generate_postman.py"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_postman", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def schema(generator: ModuleType) -> dict[str, Any]:
    loaded: dict[str, Any] = generator.load_schema()
    return loaded


def test_committed_collection_is_a_fresh_generation() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_collection_walks_signup_to_alerts_in_order(generator: ModuleType) -> None:
    collection = json.loads((REPO / "docs/postman" / generator.COLLECTION_FILE).read_text())
    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
    steps = [
        request["request"]["description"].rsplit("`", 2)[1]
        for folder in collection["item"]
        for request in folder["item"]
    ]
    walk = [
        "auth_signup",
        "auth_token",
        "me",
        "me_api_keys_create",
        "tracking_start",
        "positions_list",
        "quotes_list",
        "quotes_latest",
        "quotes_refresh",
        "alerts_create",
        "alerts_list",
        "alerts_activate",
        "alerts_delete",
        "position_alerts_create",
        "position_alerts_activate",
        "position_alerts_delete",
    ]
    positions = [steps.index(operation) for operation in walk]
    # Quotes are forced before they are listed; otherwise the walk is in the order above.
    assert positions[:6] == sorted(positions[:6])
    assert positions[8] < positions[6] < positions[7] < positions[9]
    assert positions[9:] == sorted(positions[9:])


def test_every_request_asserts_its_status(generator: ModuleType) -> None:
    collection = json.loads((REPO / "docs/postman" / generator.COLLECTION_FILE).read_text())
    for folder in collection["item"]:
        for request in folder["item"]:
            tests = next(e for e in request["event"] if e["listen"] == "test")
            assert any("pm.response.to.have.status(" in line for line in tests["script"]["exec"])


def test_environment_names_the_base_url_and_credentials(generator: ModuleType) -> None:
    environment = json.loads((REPO / "docs/postman" / generator.ENVIRONMENT_FILE).read_text())
    names = {value["key"] for value in environment["values"]}
    assert {"baseUrl", "username", "password", "accessToken", "refreshToken"} <= names


def test_a_step_the_schema_does_not_document_is_refused(
    generator: ModuleType, schema: dict[str, Any]
) -> None:
    ops = generator.operations(schema)
    undocumented_status = generator.Step("teapot", "healthz", 418)
    with pytest.raises(generator.SchemaMismatch, match="does not document status 418"):
        generator.checked_step(schema, ops, undocumented_status)
    unknown_field = generator.Step("x", "alerts_create", 201, body={"colour": "red"})
    with pytest.raises(generator.SchemaMismatch, match="takes no field"):
        generator.checked_step(schema, ops, unknown_field)
    renamed = generator.Step("x", "alerts_make", 201)
    with pytest.raises(generator.SchemaMismatch, match="no operation"):
        generator.checked_step(schema, ops, renamed)
