"""The SDK raises the server's own error classes: one table (the statuses the exception tree
carries, ``rastercat.errors.HTTP_ERRORS``) read by both sides, checked here through real answers."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rastercat import errors
from rastercat.api.errors import STATUS_CODES, install_error_handlers
from rastercat.client._http import raise_for_status

RAISED = sorted(
    {*errors.HTTP_ERRORS, errors.InvalidBatch, errors.ConflictingBatch}, key=lambda c: c.__name__
)


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{name}")
    def _raise(name: str) -> None:
        raise getattr(errors, name)("boom")

    @app.get("/count")
    def _count(n: int) -> int:
        return n

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("cls", RAISED, ids=lambda c: c.__name__)
def test_the_sdk_raises_the_class_the_server_raised(client: TestClient, cls: type) -> None:
    response = client.get(f"/raise/{cls.__name__}")
    assert response.status_code == cls.status
    with pytest.raises(errors.RastercatError) as raised:
        raise_for_status(response)
    assert type(raised.value) is cls
    assert "boom" in str(raised.value)


def test_both_sides_read_one_table() -> None:
    # Status by status: what the server answers with is what the SDK maps back, and no status
    # the server never sends (422) has an entry.
    assert STATUS_CODES == {cls: cls.status for cls in errors.HTTP_ERRORS}
    for cls, status in STATUS_CODES.items():
        assert errors.error_class(status, cls.__name__) is cls
    assert {cls.status for cls in errors.HTTP_ERRORS} == {
        400,
        401,
        403,
        404,
        409,
        413,
        429,
        500,
        503,
    }
    assert errors.error_class(422) is errors.ServiceError
    assert errors.error_class(400, "IngestError") is errors.IngestError


def test_answers_that_name_no_class_of_their_status(client: TestClient) -> None:
    # A title of another status does not choose the class: the status does.
    assert errors.error_class(404, "InvalidInput") is errors.NotFound
    assert errors.error_class(502, "StoreError") is errors.ServiceError
    with pytest.raises(errors.InvalidInput):  # the framework's own validation answer
        raise_for_status(client.get("/count", params={"n": "x"}))
    with pytest.raises(errors.NotFound):  # an unknown route: title HTTPError
        raise_for_status(client.get("/nowhere"))
    with pytest.raises(errors.ServiceError):  # 405: no class of that status
        raise_for_status(client.post("/count"))


def test_the_sdk_imports_no_server_module() -> None:
    code = (
        "import sys, rastercat.client._http, rastercat.client.catalog, rastercat.client.metadata; "
        "server = ('rastercat.api', 'rastercat.catalog', 'rastercat.store', 'rastercat.ingest'); "
        "print(','.join(m for m in sys.modules if m.startswith(server)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
