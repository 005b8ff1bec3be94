"""Event worker processes for `serve --event-workers N`: each runs `backoffice events`, which answers the Slack
events the web process stored and acked (deferred events, see `bot.inbox`). A worker that exits is started again;
an event it was running is claimed again once stale (`BACKOFFICE_EVENT_STALE_SECONDS`)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Mapping

log = logging.getLogger(__name__)
RESTART_DELAY_SECONDS = 1.0
PARENT_ENV = "BACKOFFICE_EVENT_WORKER_PARENT"
# Answers can wait a few milliseconds; Slack's ack cannot: on a busy machine the web process runs first.
WORKER_NICENESS = 5
STOP_TIMEOUT_SECONDS = 10.0


def _lower_priority() -> None:
    os.nice(WORKER_NICENESS)


class EventWorkers:
    """`count` child processes running `python -m bot.cli events` with `env`, kept running until `stop()`."""

    def __init__(self, count: int, env: Mapping[str, str] | None = None) -> None:
        self.count = count
        self._env = {
            **(env if env is not None else os.environ),
            PARENT_ENV: str(os.getpid()),  # a worker stops by itself when this process is gone (even killed)
        }
        self._processes: list[subprocess.Popen[bytes]] = []
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "bot.cli", "events"], env=self._env, preexec_fn=_lower_priority)

    def start(self) -> None:
        self._processes = [self._spawn() for _ in range(self.count)]
        self._watcher = threading.Thread(target=self._watch, name="event-workers", daemon=True)
        self._watcher.start()

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self._processes]

    def _watch(self) -> None:
        while not self._stopping.wait(RESTART_DELAY_SECONDS):
            for n, process in enumerate(self._processes):
                code = process.poll()
                if code is not None and not self._stopping.is_set():
                    log.warning("event worker %d exited with %s; starting it again", process.pid, code)
                    self._processes[n] = self._spawn()

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def stop_when_parent_exits(stopping: threading.Event, environ: Mapping[str, str] | None = None) -> None:
    """In a worker started by `EventWorkers`: set `stopping` once the process that started it is gone."""
    parent = (environ if environ is not None else os.environ).get(PARENT_ENV)
    if not parent:
        return

    def watch() -> None:
        while not stopping.wait(RESTART_DELAY_SECONDS):
            if os.getppid() != int(parent):
                log.warning("the serve process %s is gone; this event worker stops", parent)
                stopping.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
