"""Files an administrator edits, re-read when they change: one mechanism for the policy and the approval rules.

A `Watched` holds what was loaded from some files and their stamp (modification time,
size, inode of each). `reload_if_changed` looks at the files (at most every
`check_every` seconds) and loads them again when the stamp moved; `reload` loads at
once (an admin's explicit reload). A version that does not load is refused and logged
once, and the last valid value stays in force; `current` raises only when no version
was ever valid.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

log = logging.getLogger("isthmus.policy")

T = TypeVar("T")
Stamp = tuple[tuple[int, int, int], ...]


class NothingValid(Exception):
    """The files never held a valid version: there is nothing to keep in force."""


class Watched(Generic[T]):
    def __init__(
        self,
        paths: Sequence[Path],
        load: Callable[[], T],
        *,
        what: str,
        check_every: float = 0.0,
        required: bool = False,
    ) -> None:
        """`required`: the first version must load (raising here), as for a policy the gateway cannot start without."""
        self.paths = tuple(Path(path) for path in paths)
        self.what = what
        self.check_every = check_every
        self.on_reload: list[Callable[[T], None]] = []  # told after every successful reload
        self.problem: str | None = None
        self._load = load
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self._stamp: Stamp | str | None = None
        self._value: T | None = None
        if required:
            self._stamp = self.stamp()
            self._value = load()
        else:
            self.reload_if_changed(now=True)

    @property
    def value(self) -> T | None:
        """The version in force (None if none was ever valid)."""
        return self._value

    def current(self) -> T:
        """The version in force, after a look at the files; NothingValid when none ever loaded."""
        self.reload_if_changed()
        if self._value is None:
            raise NothingValid(f"{self.what}: {self.problem or 'not read'}")
        return self._value

    def stamp(self) -> Stamp:
        return tuple((s.st_mtime_ns, s.st_size, s.st_ino) for s in map(os.stat, self.paths))

    def reload_if_changed(self, now: bool = False) -> bool:
        """Cheap enough to call on every request: a `stat` per file, at most every `check_every` seconds."""
        moment = time.monotonic()
        if not now and moment - self._checked < self.check_every:
            return False
        self._checked = moment
        try:
            stamp: Stamp | str = self.stamp()
        except OSError as exc:
            stamp = f"cannot read {exc.filename}: {exc.strerror or exc}"
        if stamp == self._stamp:
            return False
        if isinstance(stamp, str):
            self._stamp = stamp  # reported once, not on every look
            self._refuse(stamp)
            return False
        return self.reload(stamp)

    def reload(self, stamp: Stamp | None = None) -> bool:
        """Load the files again; on failure keep the version in force and say why in the log."""
        with self._lock:
            try:
                self._stamp = stamp or self.stamp()
                value = self._load()
            except Exception as exc:  # noqa: BLE001 - any broken file must leave the old version standing
                self._refuse(str(exc))
                return False
            self._value, self.problem = value, None
        for listener in self.on_reload:
            listener(value)
        return True

    def _refuse(self, problem: str) -> None:
        self.problem = problem
        if self._value is not None:
            log.error("%s not reloaded, the previous version stays in force: %s", self.what, problem)
        else:
            log.error("%s could not be read, and no valid version is in force: %s", self.what, problem)
