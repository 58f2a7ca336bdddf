"""Stop the server, start it on the same data directory: everything is still there."""

from __future__ import annotations

from api.conftest import BLUE, CAT


def test_restart_keeps_everything(server_factory, tmp_path):
    data = tmp_path / "persist"
    first = server_factory(data)
    with first.client("carol") as c:
        pid = c.post(
            f"{CAT}/products", json={"id": "keep", "title": "T", "description": "D"}
        ).json()["data"]["id"]
        assert c.post(f"{CAT}/products/{pid}/bands", json=BLUE).status_code == 201
        assert (
            c.post(
                f"{CAT}/products/{pid}/images", json={"id": "i", "cloud_fraction": 0.5}
            ).status_code
            == 201
        )
        token = c.headers["Authorization"]
    first.stop()
    assert (data / "catalog.db").exists() and (data / "secret.key").exists()
    second = server_factory(data)
    with second.client(None, headers={"Authorization": token}) as c:
        assert c.get(f"{CAT}/products/{pid}").json()["data"]["attributes"]["title"] == "T"
        assert c.get(f"{CAT}/products/{pid}/bands/blue").status_code == 200
        assert (
            c.get(f"{CAT}/products/{pid}/images/i").json()["data"]["attributes"]["cloud_fraction"]
            == 0.5
        )
