"""Races of uploads with deletions and the maintenance sweep: the local store's folders are shared
by concurrent writers and pruned by concurrent deletions; none of it may end in a 500."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from rastercat.store.objects import LocalObjectStore


def test_store_puts_deletes_and_listings_race_without_errors(tmp_path: Path) -> None:
    """Threads put and delete objects under shared prefixes while others list them: pruning an
    emptied folder must never make a concurrent put (or a listing) fail."""
    store = LocalObjectStore(tmp_path / "objects")
    errors: list[BaseException] = []
    stop = threading.Event()
    rounds = 400

    def writer(n: int) -> None:
        src_dir = tmp_path / f"src{n}"
        src_dir.mkdir()
        try:
            for i in range(rounds):
                # Shared second-level folders, as products/<uid>/ and uploads/<uid>/ are.
                key = f"{('products', 'uploads')[i % 2]}/shared/{n}-{i % 3}/f{i}.tif"
                src = src_dir / "f.bin"
                src.write_bytes(b"x")
                store.put_file(src, key)
                assert store.exists(key)
                store.delete(key)
        except BaseException as exc:  # noqa: BLE001 (any error is the finding)
            errors.append(exc)

    def lister() -> None:
        try:
            while not stop.is_set():
                list(store.list("products"))
                list(store.list("uploads"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    listers = [threading.Thread(target=lister) for _ in range(2)]
    started = time.monotonic()
    for th in writers + listers:
        th.start()
    for th in writers:
        th.join(120)
    stop.set()
    for th in listers:
        th.join(30)
    assert not errors, f"{len(errors)} error(s), first: {errors[0]!r}"
    assert time.monotonic() - started < 120
    assert list(store.list()) == []
    # Top-level prefixes stay; everything below them was pruned.
    assert sorted(p.name for p in (tmp_path / "objects").iterdir()) == ["products", "uploads"]
    assert not any((tmp_path / "objects" / "products").iterdir())


CAT = "/metadata/v1/catalog"
BAND = {
    "name": "b1", "srcband": 1, "srcfile": 0, "dtype": "UInt16", "nbits": 16,
    "data_range": [0, 10000], "type": "spectral",
}  # fmt: skip
PRODUCTS = 10
UPLOADS = 300
DOOMED = 5  # the first products are deleted (cascade) while their uploads arrive


def _files(root: Path) -> list[str]:
    import os

    return [
        (Path(d) / f).relative_to(root).as_posix() for d, _, names in os.walk(root) for f in names
    ]


def test_concurrent_puts_while_products_are_deleted_and_swept(
    server_factory: Any, tmp_path: Path
) -> None:
    """Hundreds of PUTs at once while half the products are cascade-deleted and the maintenance
    sweep runs: no 5xx, every acknowledged upload of a surviving product ends SUCCESS or FAILURE,
    and no file is left that no record needs."""
    import concurrent.futures as cf

    import httpx
    import numpy as np
    import sqlalchemy as sa

    from helpers import wait_for, write_geotiff
    from rastercat.store.sql.repo import t

    server = server_factory()
    data = write_geotiff(tmp_path / "t.tif", np.arange(64, dtype="uint16").reshape(8, 8) + 1)
    body = data.read_bytes()
    maintenance = server.state.maintenance.maintenance
    owner = server.client("alice")
    anon = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=64))
    try:
        pids = []
        for i in range(PRODUCTS):
            r = owner.post(
                f"{CAT}/products", json={"id": f"race{i}", "title": "T", "description": "D"}
            )
            assert r.status_code == 201, r.text
            pids.append(r.json()["data"]["id"])
            assert owner.post(f"{CAT}/products/{pids[-1]}/bands", json=BAND).status_code == 201
        uploads = []  # (pid, upload id, url)
        for n in range(UPLOADS):
            pid, name = pids[n % PRODUCTS], f"f{n}.tif"
            r = owner.post(
                f"{CAT}/products/{pid}/images/upload/{name}",
                json={"process_controls": {"upload_type": "file"}},
            )
            assert r.status_code == 200, r.text
            uploads.append((pid, name, r.text))

        statuses: dict[int, int] = {}
        stop = threading.Event()
        sweep_errors: list[BaseException] = []

        def put(n: int) -> None:
            statuses[n] = anon.put(uploads[n][2], content=body).status_code

        def sweeper() -> None:
            while not stop.is_set():
                try:
                    maintenance.sweep_stray_uploads()
                    maintenance.expire_uploads()
                except BaseException as exc:  # noqa: BLE001
                    sweep_errors.append(exc)

        sweeping = threading.Thread(target=sweeper)
        sweeping.start()
        deadline = time.monotonic() + 120
        with cf.ThreadPoolExecutor(48) as pool:
            futures = [pool.submit(put, n) for n in range(UPLOADS)]
            tasks = []
            for pid in pids[:DOOMED]:  # while the PUTs run
                r = owner.delete(f"{CAT}/products/{pid}", params={"cascade": "True"})
                assert r.status_code == 200, r.text
                tasks.append(r.json()["deletion_task"])
            cf.wait(futures, timeout=120)
        stop.set()
        sweeping.join(30)
        assert time.monotonic() < deadline, "the PUTs took too long"
        assert not sweep_errors, repr(sweep_errors[0])
        assert len(statuses) == UPLOADS
        assert not [s for s in statuses.values() if s >= 500], sorted(statuses.values())
        assert set(statuses.values()) <= {200, 404, 409}, sorted(set(statuses.values()))
        survivors = set(pids[DOOMED:])
        # Every upload of a surviving product was acknowledged and ends SUCCESS or FAILURE.
        for n, (pid, _, _) in enumerate(uploads):
            if pid in survivors:
                assert statuses[n] == 200, (n, statuses[n])

        def finished() -> bool:
            with server.state.repo.tx() as conn:
                rows = conn.execute(sa.select(t.uploads.c.product_id, t.uploads.c.status)).all()
            return all(s in ("SUCCESS", "FAILURE") for p, s in rows if p in survivors)

        wait_for(finished, timeout=180, interval=0.5, what="every upload to finish")
        for task in tasks:
            wait_for(
                lambda task=task: owner.get(f"{CAT}/products/deletion_tasks/{task}").json()[
                    "completed"
                ],
                timeout=60,
                what="the deletions",
            )
        with server.state.repo.tx() as conn:
            rows = conn.execute(sa.select(t.uploads.c.product_id, t.uploads.c.status)).all()
            keys = {r[0] for r in conn.execute(sa.select(t.images.c.storage_key)) if r[0]}
        assert {p for p, _ in rows} <= survivors  # the deleted products' uploads are gone
        assert sum(1 for _, s in rows if s == "SUCCESS") == UPLOADS // PRODUCTS * len(survivors)

        def orphans() -> list[str]:
            root = server.settings.data_dir
            found = [k for k in _files(root / "objects") if k not in keys]
            return found + [f"{d}/{k}" for d in ("work", "incoming") for k in _files(root / d)]

        try:
            wait_for(lambda: not orphans(), timeout=30, what="orphan files to go")
        except AssertionError:
            raise AssertionError(f"orphan files: {orphans()[:10]}") from None
    finally:
        owner.close()
        anon.close()
