"""Values computed a moment ago, kept in this process for reuse while they
still hold: the dashboard's heavy figures between its refreshes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class Kept(Generic[V]):
    """At most ``size`` values, each reused for up to ``seconds`` and only while
    the caller's ``version`` of what it was computed from is unchanged.

    Per process and bounded (the oldest goes first). The key says whose value
    it is: callers put everything that must not be shared (event, viewer) in it.
    """

    def __init__(self, seconds: float, size: int = 256, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.size, self.clock = seconds, size, clock
        self._values: dict[Hashable, tuple[float, Hashable, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: Hashable) -> V | None:
        kept = self._values.get(key)
        if kept is None or kept[1] != version or self.clock() - kept[0] > self.seconds:
            return None
        return kept[2]

    def put(self, key: Hashable, version: Hashable, value: V) -> None:
        with self._lock:
            if key not in self._values and len(self._values) >= self.size:
                del self._values[min(self._values, key=lambda k: self._values[k][0])]
            self._values[key] = (self.clock(), version, value)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
