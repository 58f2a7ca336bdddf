"""Find README.md's code blocks and run them in order, as a reader would, against a live server.

Conventions (README.md says them too): ```python and ```bash (or ```sh / ```shell) blocks run;
```text, ```console and bare ``` blocks never do; the line ``<!-- readme-test: skip -->`` directly
before a fence skips that block (servers, installs, the whole test suite).

Python blocks share one interpreter and namespace, in order (a block may use what an earlier one
defined). Bash blocks each run in a fresh ``bash -eo pipefail``; what they export is kept for the
blocks after them, Python ones included. Both run in one working directory.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SKIP_MARKER = "<!-- readme-test: skip -->"
RUN_LANGS = {"python": "python", "py": "python", "bash": "bash", "sh": "bash", "shell": "bash"}
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class Block:
    lang: str
    """The fence's info word, lower-cased ('' for a bare fence)."""
    code: str
    line: int
    """1-based line of the first line of code (the one after the fence)."""
    skip: bool

    @property
    def runs(self) -> bool:
        return not self.skip and self.lang in RUN_LANGS

    @property
    def kind(self) -> str:
        return RUN_LANGS.get(self.lang, "")


def _opening(line: str) -> re.Match[str] | None:
    match = _FENCE.match(line)
    # CommonMark: a backtick fence's info string has no backtick (```` ```x ```` is inline code).
    if match and match["fence"][0] == "`" and "`" in match["info"]:
        return None
    return match


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def blocks(text: str) -> list[Block]:
    """Every fenced code block of a Markdown text, in order; ValueError for an unclosed fence
    (CommonMark would run it to the end of the file, silently swallowing every block after it)."""
    lines = text.splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        match = _opening(lines[i])
        if not match:
            i += 1
            continue
        fence, indent = match["fence"], len(match["indent"])
        info = match["info"].strip().split()
        previous = next((ln.strip() for ln in reversed(lines[:i]) if ln.strip()), "")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not _closes(lines[j], fence):
            body.append(lines[j][indent:] if lines[j][:indent].isspace() else lines[j])
            j += 1
        if j == len(lines):
            raise ValueError(f"line {i + 1}: the code fence {fence} is never closed")
        lang = info[0].lower() if info else ""
        out.append(Block(lang, "\n".join(body) + "\n", i + 2, previous == SKIP_MARKER))
        i = j + 1
    return out


class BlockFailed(AssertionError):
    pass


def _failure(block: Block, detail: str, output: str) -> BlockFailed:
    tail = "\n".join(output.strip().splitlines()[-40:])
    code = textwrap.indent(block.code.rstrip(), "    ")
    return BlockFailed(
        f"README.md line {block.line}: the {block.kind} block failed ({detail})\n{code}\n"
        f"--- its output (last lines) ---\n{tail}"
    )


# The Python side: one long-lived interpreter that execs each block in one namespace. Requests and
# answers go over stdin and a private copy of the original stdout; while a block runs, fds 1 and 2
# point at its log file, so nothing it prints can be mistaken for an answer.
_KERNEL = r"""
import json, os, sys, traceback
answers = os.fdopen(os.dup(1), "w")
namespace = {"__name__": "__main__"}
for request in sys.stdin:
    job = json.loads(request)
    os.environ.clear()
    os.environ.update(job["env"])
    os.chdir(job["cwd"])
    with open(job["log"], "w") as log:
        sys.stdout.flush(); sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(log.fileno(), 1); os.dup2(log.fileno(), 2)
        error = None
        try:
            exec(compile(job["code"], "README.md", "exec"), namespace)
        except BaseException:
            error = traceback.format_exc()
        finally:
            sys.stdout.flush(); sys.stderr.flush()
            os.dup2(saved[0], 1); os.dup2(saved[1], 2)
            os.close(saved[0]); os.close(saved[1])
    answers.write(json.dumps({"error": error}) + "\n")
    answers.flush()
"""


class ReadmeRunner:
    """Runs blocks in order in ``cwd`` with ``env`` (updated by what bash blocks export)."""

    def __init__(self, python: str, cwd: Path, env: dict[str, str], timeout: float = 300) -> None:
        self.cwd = cwd
        self.env = dict(env)
        self.timeout = timeout
        self._logs = cwd.parent / "readme-logs"
        self._logs.mkdir(exist_ok=True)
        self._kernel = subprocess.Popen(
            [python, "-u", "-c", _KERNEL],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=self.env,
        )

    def close(self) -> None:
        if self._kernel.poll() is None:
            assert self._kernel.stdin is not None
            self._kernel.stdin.close()
            try:
                self._kernel.wait(30)
            except subprocess.TimeoutExpired:
                self._kernel.kill()
                self._kernel.wait()

    def run(self, block: Block) -> str:
        """Run one block; returns its output, raises BlockFailed with the README line."""
        if block.kind == "python":
            return self._python(block)
        return self._bash(block)

    def _python(self, block: Block) -> str:
        log = self._logs / f"line-{block.line}.log"
        # Padding makes tracebacks point at README.md's own line numbers.
        code = "\n" * (block.line - 1) + block.code
        job = {"code": code, "env": self.env, "cwd": str(self.cwd), "log": str(log)}
        assert self._kernel.stdin is not None and self._kernel.stdout is not None
        self._kernel.stdin.write(json.dumps(job) + "\n")
        self._kernel.stdin.flush()
        answer = self._kernel.stdout.readline()  # the kernel answers after each block
        output = log.read_text() if log.exists() else ""
        if not answer:
            raise _failure(block, "the Python process died", output)
        error = json.loads(answer)["error"]
        if error:
            raise _failure(block, "exception", output + "\n" + error)
        return output

    def _bash(self, block: Block) -> str:
        env_out = self._logs / f"line-{block.line}.env"
        script = self._logs / f"line-{block.line}.sh"
        script.write_text(block.code + f'\nenv -0 > "{env_out}"\n')
        try:
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                cwd=self.cwd,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=self.timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise _failure(
                block, f"timed out after {self.timeout:.0f} s", str(exc.stdout)
            ) from None
        output = done.stdout + done.stderr
        if done.returncode != 0:
            raise _failure(block, f"exit status {done.returncode}", output)
        self.env = _read_env(env_out)
        return output


def _read_env(path: Path) -> dict[str, str]:
    env: dict[str, Any] = {}
    for item in path.read_text().split("\0"):
        name, sep, value = item.partition("=")
        if sep and name not in ("_", "SHLVL", "PWD", "OLDPWD"):
            env[name] = value
    return env


def referenced_rasters(code: str) -> set[str]:
    """File names like ``blue.tif`` or ``scene.jp2`` a block mentions (relative, no directory)."""
    return set(re.findall(r"(?<![\w/.-])([\w-]+\.(?:tif|tiff|jp2))\b", code))


def written_rasters(code: str) -> set[str]:
    """Raster names a block writes itself (``open("x.tif", "w", ...)``): the test must not make
    those for it, or a README that stopped writing its sample file would still pass."""
    return set(re.findall(r"open\(\s*[\"']([\w-]+\.(?:tif|tiff|jp2))[\"']\s*,\s*[\"']w", code))


def subprocess_env(base: dict[str, str], **extra: str) -> dict[str, str]:
    """``base`` without any RASTERCAT_*/DESCARTESLABS_* setting of the machine running the tests."""
    drop = ("RASTERCAT_", "DESCARTESLABS_")
    return {k: v for k, v in base.items() if not k.startswith(drop)} | extra


__all__ = [
    "Block",
    "BlockFailed",
    "ReadmeRunner",
    "blocks",
    "referenced_rasters",
    "subprocess_env",
    "written_rasters",
]
