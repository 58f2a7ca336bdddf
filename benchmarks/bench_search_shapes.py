"""The search benchmarks' data and queries: N generated images (0.05-0.5 degree footprints over the
world, dates over ten years, a cloud fraction), loaded in bulk into SQLite and PostgreSQL, and the
four query shapes of issue 16 (used by bench_search.py over HTTP and bench_search_pg.py in SQL)."""

from __future__ import annotations

import io
import json
import random
import statistics
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2015, 1, 1, tzinfo=UTC)
SPAN = 10 * 365 * 86400
WORLD = {"type": "Polygon", "coordinates": [[[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]]}  # fmt: skip


def box(lon: float, lat: float, size: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size],
                                                [lon, lat + size], [lon, lat]]]}  # fmt: skip


def images(n: int, seed: int = 42) -> Iterator[tuple[int, float, float, float, float, float, str]]:
    """(i, minx, miny, maxx, maxy, acquired, attrs JSON) for n images."""
    rng = random.Random(seed)
    t0 = T0.timestamp()
    for i in range(n):
        lon, lat, size = rng.uniform(-179, 178), rng.uniform(-80, 79), rng.uniform(0.05, 0.5)
        when = t0 + rng.random() * SPAN
        attrs = {"acquired": datetime.fromtimestamp(when, UTC).isoformat(), "geometry": box(lon, lat, size),
                 "cloud_fraction": round(rng.random(), 3), "key": f"i{i}"}  # fmt: skip
        yield i, lon, lat, lon + size, lat + size, when, json.dumps(attrs)


def load(state: Any, n: int, pid: str, uid: str, owner: str) -> None:
    """n images of product ``pid`` straight into the catalog of a running app (both databases)."""
    from rastercat.store.sql.repo import RTREE_DAY

    now = datetime.now(UTC).isoformat(sep=" ")
    owners = json.dumps([owner])
    with state.engine.begin() as conn:
        raw = conn.connection.driver_connection
        if state.repo.dialect == "sqlite":
            for chunk in _chunks(images(n), 50_000):
                raw.executemany(
                    "INSERT INTO images (id, product_uid, product_id, key, attrs, owners, readers, writers,"
                    " acquired, minx, miny, maxx, maxy, created, modified) VALUES"
                    " (?, ?, ?, ?, ?, ?, '[]', '[]', ?, ?, ?, ?, ?, ?, ?)",
                    [(f"{pid}:i{r[0]}", uid, pid, f"i{r[0]}", r[6], owners, r[5], r[1], r[2], r[3], r[4],
                      now, now) for r in chunk],
                )  # fmt: skip
            raw.execute(
                "INSERT INTO images_rtree (pk, minx, maxx, miny, maxy, mint, maxt)"
                f" SELECT pk, minx, maxx, miny, maxy, acquired / {RTREE_DAY!r},"
                f" acquired / {RTREE_DAY!r} FROM images WHERE product_uid = ?",
                (uid,),
            )
            return
        with raw.cursor() as cur:
            cols = ("id, product_uid, product_id, key, attrs, owners, readers, writers, acquired,"
                    " minx, miny, maxx, maxy, created, modified")  # fmt: skip
            with cur.copy(f"COPY images ({cols}) FROM STDIN") as copy:
                for chunk in _chunks(images(n), 50_000):
                    buf = io.StringIO()
                    for r in chunk:
                        attrs = r[6].replace("\\", "\\\\")
                        buf.write(f"{pid}:i{r[0]}\t{uid}\t{pid}\ti{r[0]}\t{attrs}\t{owners}\t[]\t[]\t"
                                  f"{r[5]}\t{r[1]}\t{r[2]}\t{r[3]}\t{r[4]}\t{now}\t{now}\n")  # fmt: skip
                    copy.write(buf.getvalue())
            cur.execute(
                "UPDATE images SET footprint = ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)"
                " WHERE footprint IS NULL"
            )
    with state.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "VACUUM ANALYZE images"
        )


def _chunks(it: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for x in it:
        chunk.append(x)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def shapes(n: int, seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    """n search bodies of each of issue 16's four shapes, first 100 in date order."""
    rng = random.Random(seed)
    out: dict[str, list[dict[str, Any]]] = {
        "5 deg + 18 months + prop": [], "0.2 deg x 10 years": [], "world x 1 week": [],
        "20 deg x 1 month": [],
    }  # fmt: skip
    for _ in range(n):
        lon, lat = rng.uniform(-170, 160), rng.uniform(-70, 60)
        year = rng.randint(2015, 2023)
        out["5 deg + 18 months + prop"].append(
            {"geom": box(lon, lat, 5), "start_datetime": f"{year}-01-01", "end_datetime": f"{year + 1}-06-30",
             "query_expr": {"and": [{"range": {"cloud_fraction": {"lt": 0.5}}}]}}
        )  # fmt: skip
        lon, lat = rng.uniform(-170, 140), rng.uniform(-70, 50)
        day = T0 + timedelta(days=rng.randint(0, 9 * 365))
        out["0.2 deg x 10 years"].append(
            {
                "geom": box(lon, lat, 0.2),
                "start_datetime": "2015-01-01",
                "end_datetime": "2025-01-01",
            }
        )
        out["world x 1 week"].append(
            {"geom": WORLD, "start_datetime": day.isoformat(), "end_datetime": (day + timedelta(days=7)).isoformat()}
        )  # fmt: skip
        out["20 deg x 1 month"].append(
            {"geom": box(lon, lat, 20), "start_datetime": day.isoformat(),
             "end_datetime": (day + timedelta(days=30)).isoformat()}
        )  # fmt: skip
    for bodies in out.values():
        for body in bodies:
            body.update(date="acquired", limit=100, sort_order="asc")
    return out


def pct(xs: list[float], q: int) -> float:
    """The q-th percentile (inclusive method: p99 of 100 samples lies between the two largest)."""
    if len(xs) < 2:
        return xs[0]
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1]


PLANS = ("auto", "spatial")
"""The plan the catalog chooses, and the spatial index forced (the only plan before the date walk)."""


def interleaved(
    repo: Any,
    one: Callable[[dict[str, Any]], tuple[list[float], float]],
    bodies: list[dict[str, Any]],
) -> tuple[dict[str, list[float]], float]:
    """Each body under each plan in turn, the first plan alternating, so that a loaded machine's
    drift and cache warmth fall on both plans alike. Returns times per plan and results/search."""
    times: dict[str, list[float]] = {plan: [] for plan in PLANS}
    found = 0.0
    for i, body in enumerate(bodies):
        for plan in PLANS if i % 2 == 0 else PLANS[::-1]:
            repo.search_plan = plan
            (ms,), n = one(body)
            times[plan].append(ms)
            found += n / len(PLANS)
    repo.search_plan = "auto"
    return times, found / len(bodies)
