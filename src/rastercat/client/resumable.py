"""The client side of resumable uploads (protocol: :mod:`rastercat.catalog.multipart`).

A file is sent in parts, ``parallel`` at a time, each with its SHA-256 in ``x-amz-checksum-sha256``;
a part that fails (network, 5xx, a refused checksum) is read from the file again and re-sent with
exponential backoff. Memory stays near ``parallel`` x ``part_bytes``: parts are read from the file
when they are sent, never the whole file at once.

Resuming across process restarts: the session URL is kept in a small JSON file in the user's
cache directory, named after the file's fingerprint (absolute path, size, modification time, and
the SHA-256 of its first and last MiB), the server, the product and the upload's request. Running
the same upload again asks the server which parts it holds (its answer is the truth: a part the
server stored is never sent again, even if this process died before it heard the answer) and
sends only the others. The state file is removed once the upload completed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import httpx

from rastercat.client._http import raise_for_status
from rastercat.client.settings import UploadClientSettings
from rastercat.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RastercatError,
    RateLimited,
    ServiceError,
    StoreError,
)

log = logging.getLogger("rastercat.client.uploads")
MIB = 2**20
SEND_CHUNK = MIB
PART_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
COMPLETE_TIMEOUT = httpx.Timeout(3600.0, connect=10.0)
GONE = (NotFound, Forbidden, Conflict)
"""Answers meaning the session cannot go on (ended, expired, access revoked): start again."""
MAX_PARTS = 10_000


def fingerprint(path: Path) -> dict[str, Any]:
    """What identifies "the same file" between runs, without reading all of it."""
    st = path.stat()
    head, tail = hashlib.sha256(), hashlib.sha256()
    with path.open("rb") as f:
        head.update(f.read(MIB))
        f.seek(max(0, st.st_size - MIB))
        tail.update(f.read(MIB))
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "head": head.hexdigest(), "tail": tail.hexdigest()}  # fmt: skip


def file_sha256(path: Path, stop: threading.Event | None = None) -> str | None:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(8 * MIB):
            if stop is not None and stop.is_set():
                return None
            digest.update(block)
    return digest.hexdigest()


def part_size_for(size: int, wanted: int) -> int:
    """``wanted``, raised (to a whole MiB) when the file would need more parts than S3 allows."""
    smallest = math.ceil(size / MAX_PARTS)
    if wanted >= smallest:
        return wanted
    return math.ceil(smallest / MIB) * MIB


class StateFile:
    """The JSON that lets an interrupted upload resume; written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.data: dict[str, Any] = {}

    def load(self) -> dict[str, Any] | None:
        try:
            self.data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return self.data

    def save(self, **changes: Any) -> None:
        with self.lock:
            self.data.update(changes)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}")
            tmp.write_text(json.dumps(self.data))
            os.replace(tmp, self.path)

    def ack(self, number: int) -> None:
        with self.lock:
            acked = set(self.data.get("acked", []))
            acked.add(number)
        self.save(acked=sorted(acked))

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        # Half-written copies left by a process killed while saving.
        for stale in self.path.parent.glob(f".{self.path.name}.*"):
            stale.unlink(missing_ok=True)


def _retryable(exc: BaseException, part: bool) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    if not isinstance(exc, RastercatError):
        return False
    if part:  # a refused checksum (400), an expired URL (S3 answers 403): read, sign, send again
        return not isinstance(exc, (NotFound, Conflict, PayloadTooLarge))
    return isinstance(exc, (ServiceError, StoreError, RateLimited))


class ResumableUpload:
    """One file's resumable upload. ``api`` is the SDK's catalog service (authenticated);
    ``transfer`` is the client that PUTs parts (no Authorization: the URLs are capabilities)."""

    def __init__(self, api: Any, path: Path, product_id: str, key: str, body: Mapping[str, Any],
                 settings: UploadClientSettings, *, progress: bool | None = None,
                 transfer: httpx.Client | None = None) -> None:  # fmt: skip
        self.api = api
        self.path = path
        self.product_id = product_id
        self.key = key
        self.body = dict(body)
        self.settings = settings
        self.progress = progress
        self.transfer = transfer
        self.size = path.stat().st_size
        self.fp = fingerprint(path)
        ident = json.dumps([api.base_url, product_id, key, self.body, self.fp], sort_keys=True,
                           default=str)  # fmt: skip
        name = hashlib.sha256(ident.encode()).hexdigest()[:40]
        self.state = StateFile(settings.resolved_state_dir / f"{name}.json")
        self.sent: list[int] = []
        """Part numbers this run sent (and the server acknowledged)."""

    # API calls, with retries ---------------------------------------------------------------------
    def _retry(self, what: str, call: Callable[[], Any], *, part: bool = False) -> Any:
        for attempt in range(self.settings.retries + 1):
            try:
                return call()
            except Exception as exc:
                if not _retryable(exc, part) or attempt == self.settings.retries:
                    raise
                delay = min(30.0, self.settings.backoff * 2**attempt) * (0.5 + random.random())
                log.info("%s failed (%s); trying again in %.1f s", what, exc, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _session(self, client: httpx.Client, method: str, url: str, **kw: Any) -> Any:
        def call() -> Any:
            response = client.request(method, url, **kw)
            raise_for_status(response)
            return response.json() if response.content else None

        return self._retry(f"{method} {url.split('/uploads/')[0]}/uploads/...", call)

    # the upload ------------------------------------------------------------------------------------
    def run(self, *, keep_state: bool = False) -> str:
        """Send the file (or what the server does not hold yet), complete it; returns the upload id.
        ``keep_state``: leave the state file (marked done) for a caller that forgets it later
        (the files of a multi-file scene resume file by file)."""
        owns = self.transfer is None
        client = self.transfer or httpx.Client(timeout=PART_TIMEOUT)
        try:
            return self._run(client, keep_state)
        finally:
            if owns:
                client.close()

    def _resume(self, client: httpx.Client) -> dict[str, Any] | None:
        state = self.state.load()
        if not state or state.get("fp") != self.fp or not state.get("session_url"):
            return None
        try:
            doc: dict[str, Any] = self._session(client, "GET", state["session_url"])
        except GONE:
            self.state.remove()
            return None
        if doc["status"] == "FAILURE":
            self.state.remove()
            return None
        return doc

    def _create(self) -> dict[str, Any]:
        part = part_size_for(self.size, self.settings.part_bytes)
        body = {**self.body, "multipart": {"size": self.size, "part_size": part}}
        path = f"/products/{self.product_id}/images/multipart/{self.key}"
        doc: dict[str, Any] = self._retry(
            "starting the upload", lambda: self.api.post(path, json=body).json()
        )
        self.state.data = {}
        self.state.save(session_url=doc["session_url"], fp=self.fp, upload_id=doc["upload_id"],
                        part_size=doc["part_size"], acked=[])  # fmt: skip
        return doc

    def _run(self, client: httpx.Client, keep_state: bool) -> str:
        doc = self._resume(client)
        if doc is not None and doc["status"] != "UPLOADING":
            return self._done(doc, keep_state)  # completed before this process heard of it
        if doc is None:
            self._create()
            doc = self._session(client, "GET", self.state.data["session_url"])
        url = self.state.data["session_url"]
        held = {p["part_number"] for p in doc.get("parts", [])}
        count, part_size = int(doc["part_count"]), int(doc["part_size"])
        todo = [n for n in range(1, count + 1) if n not in held]
        done_bytes = sum(self._part_len(n, part_size, count) for n in held)
        stop = threading.Event()
        sha: dict[str, str | None] = {"hex": self.state.data.get("sha256")}
        hasher = None
        if sha["hex"] is None:
            hasher = threading.Thread(target=lambda: sha.update(hex=file_sha256(self.path, stop)),
                                      name="rastercat-sha256", daemon=True)  # fmt: skip
            hasher.start()
        beat = threading.Thread(target=self._heartbeat, args=(client, url, stop, doc),
                                name="rastercat-heartbeat", daemon=True)  # fmt: skip
        beat.start()
        bar = self._bar(done_bytes)
        try:
            self._send_parts(client, url, todo, part_size, count, bar)
            if hasher is not None:
                hasher.join()
                self.state.save(sha256=sha["hex"])
        finally:
            stop.set()
            if bar is not None:
                bar.close()
        # Completing a big file on local storage copies it: allow the time that takes.
        result = self._session(client, "POST", f"{url}/complete", json={"sha256": sha["hex"]},
                               timeout=COMPLETE_TIMEOUT)  # fmt: skip
        return self._done(result, keep_state)

    def _done(self, doc: Mapping[str, Any], keep_state: bool) -> str:
        if keep_state:
            self.state.save(done=True)
        else:
            self.state.remove()
        return str(doc.get("upload_id") or self.key)

    def _part_len(self, n: int, part_size: int, count: int) -> int:
        return part_size if n < count else self.size - part_size * (count - 1)

    def _bar(self, initial: int) -> Any:
        from rastercat.client.uploads import show_progress

        if not show_progress(self.size, self.progress):
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self.size, initial=initial, unit="B", unit_scale=True,
                    unit_divisor=1024, desc=self.path.name)  # fmt: skip

    def _heartbeat(self, client: httpx.Client, url: str, stop: threading.Event,
                   doc: Mapping[str, Any]) -> None:  # fmt: skip
        """Keep the upload alive while parts go straight to the bucket (the API sees none)."""
        every = max(1.0, min(30.0, float(doc.get("idle_timeout", 300)) / 3))
        while not stop.wait(every):
            try:
                client.get(url)
            except httpx.HTTPError:
                pass  # the parts' own retries deal with a server that is away

    def _send_parts(self, client: httpx.Client, url: str, todo: list[int], part_size: int,
                    count: int, bar: Any) -> None:  # fmt: skip
        fd = os.open(self.path, os.O_RDONLY)
        pool = ThreadPoolExecutor(self.settings.parallel, thread_name_prefix="rastercat-part")
        try:
            futures = [
                pool.submit(self._send_part, client, url, fd, n, part_size, count, bar)
                for n in todo
            ]
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in finished if f.exception() is not None]
            if failed:
                raise failed[0].exception()  # type: ignore[misc]
        finally:
            # On an error or Ctrl-C, start no more parts; those in flight finish (or fail) first.
            pool.shutdown(wait=True, cancel_futures=True)
            os.close(fd)

    def _send_part(self, client: httpx.Client, url: str, fd: int, n: int, part_size: int,
                   count: int, bar: Any) -> None:  # fmt: skip
        length = self._part_len(n, part_size, count)

        def attempt() -> None:
            data = os.pread(fd, length, (n - 1) * part_size)  # read again on every try
            if len(data) != length:
                raise InvalidInput(f"{self.path} changed while it was uploaded")
            checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
            target = self._session(client, "POST", f"{url}/urls",
                                   json={"parts": [{"part_number": n, "checksum_sha256": checksum}]})["parts"][0]  # fmt: skip
            sent = 0

            def chunks() -> Iterator[bytes]:
                nonlocal sent
                view = memoryview(data)
                for i in range(0, length, SEND_CHUNK):
                    block = view[i : i + SEND_CHUNK]
                    yield bytes(block)
                    sent += len(block)
                    if bar is not None:
                        bar.update(len(block))

            headers = {**target["headers"], "Content-Length": str(length),
                       "Content-Type": "application/octet-stream"}  # fmt: skip
            try:
                response = client.put(target["url"], content=chunks(), headers=headers)
                raise_for_status(response)
            except BaseException:
                if bar is not None:
                    bar.update(-sent)
                raise

        self._retry(f"part {n}", attempt, part=True)
        self.sent.append(n)
        self.state.ack(n)


def forget(states: list[Path]) -> None:
    """Remove resume states (a multi-file scene's, once all its files were sent)."""
    for path in states:
        StateFile(path).remove()
