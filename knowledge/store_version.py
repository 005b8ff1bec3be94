"""The knowledge store's content version, through which each process sees the others' writes."""

from __future__ import annotations

import fcntl
import os
import secrets
import time
from pathlib import Path
from typing import Any

# In client/server mode every write leaves a fresh random number under this key in the collection's metadata.
VERSION_KEY = "content_version"


class ContentVersion:
    """The store's content version, which every write changes: in a file on this host, or (client/server mode)
    in the collection's metadata on the server, re-read at most every `shared_every` seconds."""

    def __init__(self, client: Any, collection: Any, version_file: Path | None, shared_every: float | None) -> None:
        self._client = client
        self._collection = collection
        # A file whose mtime changes on every write lets other processes (web vs CLI) see new content.
        self._version_file = version_file
        # Web workers on other hosts cannot see a local file: with a server they compare the version stored
        # beside the data, fetched at most every `shared_every` seconds so most searches cost no extra call.
        self._shared_every = shared_every
        self._shared_stamp: int | None = None
        self._shared_checked = 0.0

    def bump(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Publish a new content version once a write's data is in Chroma; returns (the version before, the new one).
        Other processes compare it with their snapshot's; this one uses "before" to tell whether its own snapshot
        was current, i.e. whether nobody else wrote since it was built."""
        if self._version_file is not None:
            # Under a lock, so no other process's number can land between our read and our write and be lost;
            # replaced atomically, so a reader never sees a half-written file.
            with open(self._version_file.with_name(self._version_file.name + ".lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                before = self.current()
                stamp = time.time_ns()
                temporary = self._version_file.with_name(f"{self._version_file.name}.{os.getpid()}.tmp")
                temporary.write_text(str(stamp), encoding="ascii")
                os.replace(temporary, self._version_file)
                return before, (stamp, 0)
        if self._shared_every is not None:
            # After the data, so a process that sees the new number finds the new chunks. modify() replaces the
            # metadata; the cosine distance is kept in the collection's configuration, which it leaves alone.
            # There is no compare-and-set on a server: a write by another process between these two calls would
            # go unnoticed here (only here) until the next change.
            before = (self._shared(0), 0)
            stamp = secrets.randbits(62)
            self._collection.modify(metadata={VERSION_KEY: stamp})
            self._shared_stamp, self._shared_checked = stamp, time.monotonic()
            return before, (stamp, 0)
        return (-1, -1), self.current()  # the count: nothing to compare with

    def current(self) -> tuple[int, int]:
        if self._shared_every is not None:
            # The number alone, not the count: a changed document is deleted then added, and a reload between
            # the two would serve the index without it.
            return (self._shared(self._shared_every), 0)
        if self._version_file is not None:
            # Every write replaces this file with a new number once the data is in (`bump`), so the
            # number alone tells whether this or another process wrote: reading it takes microseconds, where
            # Chroma's count() took milliseconds on every search.
            try:
                return (int(self._version_file.read_text(encoding="ascii") or 0), 0)
            except (OSError, ValueError):
                pass  # a store never written by this code: fall back to the count
        return (0, self._collection.count())

    def _shared(self, every: float) -> int:
        now = time.monotonic()
        if self._shared_stamp is None or now - self._shared_checked >= every:
            collection = self._client.get_collection(self._collection.name, embedding_function=None)
            self._shared_stamp = int((collection.metadata or {}).get(VERSION_KEY, 0))
            self._shared_checked = now
        return self._shared_stamp
