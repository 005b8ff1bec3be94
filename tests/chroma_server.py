"""A real Chroma server (`chroma run`) on a free localhost port, for the client/server tests."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import _free_port


def chroma_command() -> list[str]:
    """`chroma run` from this virtualenv; without the console script, the same entry point through Python."""
    script = Path(sys.executable).with_name("chroma")
    if script.exists():
        return [str(script), "run"]
    entry = "import sys; from chromadb.cli.cli import app; sys.argv[0] = 'chroma'; app()"
    return [sys.executable, "-c", entry, "run"]


class ChromaServer:
    """`chroma run --path <folder> --host 127.0.0.1 --port <free>`, ready once its heartbeat answers."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "chroma.log"
        self.command = [*chroma_command(), "--path", str(folder / "data"), "--host", "127.0.0.1"]
        self.command += ["--port", str(self.port)]
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ChromaServer:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"chroma run did not start:\n{self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)

    def __exit__(self, *_exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
