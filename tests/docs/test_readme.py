"""README.md runs as written: every ```python and ```bash block, in order, against a real
`rastercat serve` on 127.0.0.1 with a data directory and a $HOME of the test's own.

Nothing is configured for the blocks beyond what a reader has after `rastercat serve`: the SDK
finds the local user's token where serve saved it, and the CLI finds the data directory through
RASTERCAT_DATA_DIR (what `--data-dir` defaults to). The one liberty taken: the server listens on
a free port, and the README's default address (127.0.0.1:8765) is rewritten to it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _readme_blocks import (
    Block,
    ReadmeRunner,
    blocks,
    referenced_rasters,
    subprocess_env,
    written_rasters,
)

from helpers import wait_for

README = Path(__file__).resolve().parents[2] / "README.md"
BIN = Path(sys.executable).parent
DEFAULT_ADDRESS = "127.0.0.1:8765"


# The parser: what runs and what does not ----------------------------------------------------------
SAMPLE = """\
Intro.

```bash
echo one
```

<!-- readme-test: skip -->
```bash
rastercat serve
```

```text
not code
```

```console
$ not run either
```

```
bare
```

- a list item:

  ```python
  x = 1
  ```
"""


def test_blocks_in_order_with_skip_marker_and_languages() -> None:
    found = blocks(SAMPLE)
    assert [(b.lang, b.runs, b.line) for b in found] == [
        ("bash", True, 4),
        ("bash", False, 9),
        ("text", False, 13),
        ("console", False, 17),
        ("", False, 21),
        ("python", True, 27),
    ]
    assert found[0].code == "echo one\n" and found[-1].code == "x = 1\n"  # indent removed


def test_inline_code_with_backticks_is_no_fence_and_an_unclosed_fence_fails() -> None:
    text = "Blocks fenced as\n```` ```python ```` run.\n\n```python\nx = 1\n````\n"
    assert [(b.lang, b.code) for b in blocks(text)] == [("python", "x = 1\n")]
    with pytest.raises(ValueError, match="line 1: the code fence ``` is never closed"):
        blocks("```bash\necho swallowed\n")


def test_raster_names_a_block_mentions() -> None:
    code = 'catalog.upload_image("blue.tif", pid)\nrastercat upload $P red.tif demo/x.tif a.jp2'
    assert referenced_rasters(code) == {"blue.tif", "red.tif", "a.jp2"}
    made = 'with rasterio.open("blue.tif", "w", driver="GTiff") as f:\nopen("x.tif")'
    assert written_rasters(made) == {"blue.tif"}


def test_a_failing_block_names_its_readme_line(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    runner = ReadmeRunner(sys.executable, work, dict(os.environ))
    try:
        assert runner.run(Block("python", "x = 41\n", 3, False)) == ""
        assert "42" in runner.run(Block("python", "print(x + 1)\n", 9, False))  # one namespace
        assert runner.run(Block("bash", "export SHARED=yes\n", 12, False)) == ""
        assert "yes" in runner.run(
            Block("python", "import os; print(os.environ['SHARED'])\n", 15, False)
        )
        with pytest.raises(AssertionError, match="README.md line 20: the python block failed"):
            runner.run(Block("python", "\nraise ValueError('drift')\n", 20, False))
        with pytest.raises(AssertionError, match="line 30: the bash block failed .exit status 3"):
            runner.run(Block("bash", "false || exit 3\necho never\n", 30, False))
        with pytest.raises(AssertionError, match="line 40"):
            runner.run(Block("bash", "false | cat\n", 40, False))  # pipefail
    finally:
        runner.close()


# The README itself ---------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`rastercat serve` as a reader starts it; yields its URL and the readers' environment."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    home = tmp_path / "home"
    home.mkdir()
    env = subprocess_env(
        dict(os.environ),
        HOME=str(home),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        RASTERCAT_DATA_DIR=str(tmp_path / "data"),
        MPLBACKEND="Agg",  # rc.scenes.display draws off-screen
    )
    env.pop("XDG_CONFIG_HOME", None)
    env.pop("RASTERCAT_CREDENTIALS", None)
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "rastercat"), "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: _healthy(url) or proc.poll() is not None, timeout=60, what="serve")
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()
        yield url, env
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _sample_raster(path: Path) -> None:
    """A file a block uploads but does not make: one of the demo's images (blue, green, red, nir,
    alpha as bands 1-5), so a product made of any of those bands accepts it."""
    from rastercat.cli import demo_landscape as demo

    written = demo.write_image(demo.landscape(), demo.IMAGES[1], path.parent)
    written.rename(path)


def test_every_readme_block_runs(served: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    url, env = served
    work = tmp_path / "work"
    work.mkdir()
    runnable = [b for b in blocks(README.read_text()) if b.runs]
    assert runnable, "README.md has no runnable block"
    needed = set().union(*(referenced_rasters(b.code) for b in runnable))
    for name in sorted(needed - set().union(*(written_rasters(b.code) for b in runnable))):
        _sample_raster(work / name)
    runner = ReadmeRunner(str(BIN / "python"), work, env)
    try:
        for block in runnable:
            code = block.code.replace(f"http://{DEFAULT_ADDRESS}", url).replace(
                DEFAULT_ADDRESS, url.removeprefix("http://")
            )
            runner.run(Block(block.lang, code, block.line, False))
    finally:
        runner.close()
