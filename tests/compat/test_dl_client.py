"""The published ``descarteslabs==0.17.3`` client runs the Catalog guide against rastercat.

Nothing here talks to rastercat in-process: a separate virtual environment holds the old client
(requirements-dl017.txt), ``rastercat serve`` runs as a real subprocess on a fresh data directory,
tokens come from the ``rastercat`` CLI, and guide_workflow.py runs each guide section with the old
client's Python and only the environment of wire protocol §1.4 (a fresh HOME, the four
DESCARTESLABS_* variables, no client id or secret).

The old client's venv is built once and cached outside the repository, keyed by a hash of its
requirements, under ``$RASTERCAT_COMPAT_CACHE`` (default ``~/.cache/rastercat-compat``), with a
lock around the build. Building needs the package index: when it is unreachable the suite FAILS
(it is part of CI) rather than skipping.

Known limits of the old client itself on Python 3.11 (no server change can help): its pinned
``cloudpickle==0.4.0`` does not import (we install cloudpickle 3, which the guide never uses); it
needs ``urllib3<2``, ``shapely<2``, and python-blosc or ``numpy<2`` for ndarrays (protocol §8).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from helpers import write_geotiff

HERE = Path(__file__).parent
REQUIREMENTS = HERE / "requirements-dl017.txt"
SCRIPT = HERE / "guide_workflow.py"
# The 0.17.3 sdist's setup.py imports pkg_resources and needs bdist_wheel: build it with these.
BUILD_REQUIREMENTS = ("setuptools==69.5.1", "wheel==0.43.0")
BIN = Path(sys.executable).parent  # the project venv: its `rastercat` entry point
UTM43 = "EPSG:32643"
GUIDE_TRANSFORM = (391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0)
SECTIONS = [
    "create",
    "upload",
    "bands",
    "sharing",
    "custom-metadata",
    "cleanup",
    "catalog-crud",
    "multi-image",
    "ndarray-single",
    "ndarray-multi",
    "metadata",
    "raster",
    "scenes",
    "alpha",
    "nodata",
    "upload-variants",
]


# ---------------------------------------------------------------------------------------------
# The old client's virtual environment


def _venv_key() -> str:
    h = hashlib.sha256()
    h.update(REQUIREMENTS.read_bytes())
    h.update(" ".join(BUILD_REQUIREMENTS).encode())
    h.update(f"{sys.version_info.major}.{sys.version_info.minor}".encode())
    return h.hexdigest()[:16]


def _run_build(cmd: list[str], what: str, hint: str = "") -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        pytest.fail(f"building the descarteslabs==0.17.3 venv timed out while {what}. {hint}")
    if proc.returncode != 0:
        pytest.fail(
            f"could not build the descarteslabs==0.17.3 venv ({what}). {hint}\n"
            f"$ {' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )


INDEX_HINT = "Is the package index reachable? The compatibility suite needs it (it runs in CI)."


def build_client_venv(cache: Path) -> Path:
    """Build (once per requirements hash) the venv holding the old client; return its python."""
    cache.mkdir(parents=True, exist_ok=True)
    key = _venv_key()
    venv = cache / f"venv-0.17.3-{key}"
    python = venv / "bin" / "python"
    marker = venv / ".rastercat-compat-complete"
    with open(cache / f"venv-0.17.3-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another pytest run may be building the same venv
        if marker.exists():
            return python
        shutil.rmtree(venv, ignore_errors=True)  # a build that died half-way
        _run_build([sys.executable, "-m", "venv", str(venv)], "creating the venv")
        pip = [str(python), "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
        _run_build([*pip, *BUILD_REQUIREMENTS], "installing the build requirements", INDEX_HINT)
        _run_build(
            [*pip, "--no-deps", "--no-build-isolation", "-r", str(REQUIREMENTS)],
            "installing requirements-dl017.txt",
            INDEX_HINT,
        )
        _run_build(
            [str(python), "-c", "import descarteslabs, blosc, shapely, matplotlib"],
            "importing the client",
        )
        marker.write_text(key)
    return python


@pytest.fixture(scope="session")
def client_python() -> Path:
    default = Path.home() / ".cache" / "rastercat-compat"
    return build_client_venv(Path(os.environ.get("RASTERCAT_COMPAT_CACHE", default)))


# ---------------------------------------------------------------------------------------------
# A real `rastercat serve` subprocess


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, home: Path) -> str:
    proc = subprocess.run(
        [str(BIN / "rastercat"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(home)},
    )
    assert proc.returncode == 0, f"rastercat {' '.join(args)} failed:\n{proc.stderr}"
    return proc.stdout


@dataclass
class Served:
    url: str
    data_dir: Path
    home: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("compat-server")
    data_dir, home = root / "data", root / "home"
    home.mkdir()
    port = free_port()
    log = root / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                str(BIN / "rastercat"),
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
                "--workers",
                "2",
                "--log-level",
                "warning",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HOME": str(home)},
        )
    server = Served(f"http://127.0.0.1:{port}", data_dir, home, log, proc)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"rastercat serve exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                if httpx.get(server.url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"rastercat serve did not answer /health:\n{server.log_tail()}")
            time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="module")
def tokens(served: Served) -> dict[str, str]:
    args = ("--data-dir", str(served.data_dir))
    cli("users", "add", "alice", *args, home=served.home)
    cli("users", "add", "bob", "--group", "some:group", *args, home=served.home)
    return {name: cli("token", name, *args, home=served.home).strip() for name in ("alice", "bob")}


# ---------------------------------------------------------------------------------------------
# Test rasters, written with rasterio here (the old client's venv has no rasterio)


@pytest.fixture(scope="module")
def guide_config(tmp_path_factory: pytest.TempPathFactory, tokens: dict[str, str]) -> Path:
    d = tmp_path_factory.mktemp("compat-rasters")
    rng = np.random.default_rng(17)
    arrays = {
        "blue": rng.integers(1, 10000, (48, 64), dtype=np.uint16),
        "blue-east": rng.integers(1, 10000, (48, 64), dtype=np.uint16),
        "cloud-mask": rng.integers(0, 2, (48, 64), dtype=np.uint16),
        "bright-mask": rng.integers(0, 2, (48, 64), dtype=np.uint16),
        # 150 m blocks of a 15 m source: near resampling to 150 m is then unambiguous
        "source-blue-150": rng.integers(1, 10000, (12, 16), dtype=np.uint16),
        "source-bright-150": rng.integers(0, 2, (12, 16), dtype=np.uint16),
    }
    cols = np.arange(64)[np.newaxis, :].repeat(48, 0)
    rows = np.arange(48)[:, np.newaxis].repeat(64, 1)
    alpha_a = ((cols >= 16) & ~((cols >= 48) & (rows < 10))).astype(np.uint16)
    alpha_b = (cols < 32).astype(np.uint16)
    arrays["alpha-a"] = np.stack([rng.integers(1, 10000, (48, 64), dtype=np.uint16), alpha_a])
    arrays["alpha-b"] = np.stack([rng.integers(1, 10000, (48, 64), dtype=np.uint16), alpha_b])
    arrays["nodata-a"] = rng.integers(1, 10000, (48, 64), dtype=np.uint16)
    arrays["nodata-b"] = rng.integers(1, 10000, (48, 64), dtype=np.uint16)
    arrays["nodata-b"][10:30, 20:50] = 0  # a hole that shows nodata-a in a mosaic
    arrays["nodata-a"][15:20, 25:30] = 0  # ... except where both are nodata
    east = (GUIDE_TRANSFORM[0] + 64 * 15.0, *GUIDE_TRANSFORM[1:])
    files = {
        "blue": write_geotiff(d / "blue.tif", arrays["blue"], crs=UTM43),
        "blue-east": write_geotiff(
            d / "blue-east.tif", arrays["blue-east"], crs=UTM43, transform=east
        ),
        "cloud-mask": write_geotiff(d / "cloud-mask.tif", arrays["cloud-mask"], crs=UTM43),
        "bright-mask": write_geotiff(d / "bright-mask.tif", arrays["bright-mask"], crs=UTM43),
        "source": write_geotiff(
            d / "source.tif",
            np.stack(
                [
                    np.kron(arrays[k], np.ones((10, 10), np.uint16))
                    for k in ("source-blue-150", "source-bright-150")
                ]
            ),
            crs=UTM43,
        ),
    }
    for key in ("alpha-a", "alpha-b", "nodata-a", "nodata-b"):
        files[key] = write_geotiff(d / f"{key}.tif", arrays[key], crs=UTM43)
    files["blue-jp2"] = write_jp2(d / "blue-jp2.jp2", arrays["blue"])
    files["not-a-raster"] = d / "not-a-raster.tif"
    files["not-a-raster"].write_bytes(b"II*\x00 this is not a TIFF, whatever its name says")
    expected = {}
    for name, arr in arrays.items():
        np.save(d / f"{name}.npy", arr)
        expected[name] = str(d / f"{name}.npy")
    config = {
        "files": {k: str(v) for k, v in files.items()},
        "expected": expected,
        "tokens": tokens,
    }
    path = d / "config.json"
    path.write_text(json.dumps(config))
    return path


def write_jp2(path: Path, data: np.ndarray) -> Path:
    """A lossless one-band JPEG2000 on the guide's grid."""
    import rasterio
    from affine import Affine

    profile = {
        "driver": "JP2OpenJPEG",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": data.dtype.name,
        "crs": UTM43,
        "transform": Affine.from_gdal(*GUIDE_TRANSFORM),
    }
    with rasterio.Env(), rasterio.open(path, "w", REVERSIBLE="YES", QUALITY="100", **profile) as f:
        f.write(data, 1)
    return path


def client_env(served: Served, token: str, home: Path) -> dict[str, str]:
    """Protocol §1.4: a fresh HOME, the four DESCARTESLABS_* variables, no client id/secret."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "PYTHONWARNINGS": "ignore",  # the old stack's DeprecationWarnings drown the report
        "DESCARTESLABS_CATALOG_URL": served.url + "/metadata/v1/catalog",
        "DESCARTESLABS_METADATA_URL": served.url + "/metadata/v1",
        "DESCARTESLABS_RASTER_URL": served.url + "/raster/v1",
        "DESCARTESLABS_TOKEN": token,
        # Any https request (the client's only other host is accounts.descarteslabs.com, for
        # token refresh) goes to a closed port and fails; rastercat on 127.0.0.1 is reached.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
    }


@pytest.mark.timeout(900)
def test_token_is_a_jwt_the_client_uses_without_refreshing(
    client_python: Path, served: Served, tokens: dict[str, str], tmp_path: Path
) -> None:
    token = tokens["alice"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == "alice"
    # RASTERCAT_TOKEN_DAYS (90) away: far beyond the 500 s within which the client would try to
    # refresh it at accounts.descarteslabs.com.
    assert claims["exp"] > time.time() + 30 * 86400
    probe = (
        "import descarteslabs as dl, os\n"
        "a = dl.Auth()\n"
        "assert a.token == os.environ['DESCARTESLABS_TOKEN']\n"
        "print(a.namespace)\n"
    )
    (tmp_path / "home").mkdir()
    proc = subprocess.run(
        [str(client_python), "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        env=client_env(served, token, tmp_path / "home"),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == hashlib.sha1(b"alice").hexdigest()


# The first test also builds the old client's venv when it is not cached yet (about a minute).
@pytest.mark.timeout(900)
@pytest.mark.parametrize("section", SECTIONS)
def test_guide_section(
    section: str,
    client_python: Path,
    served: Served,
    tokens: dict[str, str],
    guide_config: Path,
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    try:
        proc = subprocess.run(
            [str(client_python), str(SCRIPT), section, str(guide_config)],
            capture_output=True,
            text=True,
            timeout=240,
            cwd=tmp_path,
            env=client_env(served, tokens["alice"], home),
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"section {section} timed out:\n{exc.stdout}\n{served.log_tail()}")
    if proc.returncode != 0:
        pytest.fail(
            f"guide section {section!r} failed with the descarteslabs 0.17.3 client:\n"
            f"{proc.stdout}\n{proc.stderr[-6000:]}\n--- server log ---\n{served.log_tail()}"
        )
    assert f"section {section} passed" in proc.stdout
    assert not (home / ".descarteslabs").exists(), "the client wrote credentials into HOME"


def test_unreachable_index_fails_clearly_and_leaves_no_cached_venv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No index and an empty wheel folder stand in for an unreachable package index.
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "no-wheels"))
    with pytest.raises(pytest.fail.Exception, match="package index reachable"):
        build_client_venv(tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("venv-*/.rastercat-compat-complete"))


def test_sections_listed_here_are_the_scripts(client_python: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(client_python), str(SCRIPT), "no-such-section", "config.json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == 2
    listed = proc.stderr.split("{", 1)[1].split("}", 1)[0].split(",")
    assert listed == SECTIONS
