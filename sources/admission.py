"""A budget per backend: how many calls the gateway makes of a system of record at once and per second.

A system of record has a fixed capacity, and people in front of a customer go first:

- at most `limit` calls in flight and `rate` calls per second (a token bucket holding one
  second's worth); a call that finds the budget spent queues instead of piling onto the backend;
- the queue is ordered by priority class, `interactive` before `worklist` before `batch`,
  first come first served within a class; a class holds at most its share of the limit
  (`batch` 50 %: the rest stays free for people), so batch work slows down first; a waiting
  class passed over `PATIENCE` times in a row goes next, so it slows down but never starves;
- a call that waited as long as its class may (`max_wait`, never past the request's
  deadline) is shed: `BackendBusy` (BACKEND_BUSY, with the seconds worth waiting), never sent;
- the class rides in a context variable the gateway sets per request (`classed`), like the
  deadline: sources do not know who asks, and a cache fill runs in the class of the request
  that started it;
- optionally adaptive (`AdaptiveLimit`): the limit shrinks while the backend's latency is
  well above its baseline and grows back as it recovers;
- with Redis, the budget is one for all replicas (`sources/shared_budget.py`): this process
  queues and orders its own calls, Redis grants the slots and tokens; while Redis is away
  each replica keeps to its share (the budget divided by the replicas).

A granted call holds a `Lease` until its attempt ends; retries take a new one, so a backoff
never holds a slot.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol

from sources import deadline, events
from sources.errors import BackendBusy

INTERACTIVE, WORKLIST, BATCH = "interactive", "worklist", "batch"
CLASSES = (INTERACTIVE, WORKLIST, BATCH)  # in the order they are served
DEFAULT_SHARES = {INTERACTIVE: 1.0, WORKLIST: 0.75, BATCH: 0.5}
DEFAULT_MAX_WAIT = {INTERACTIVE: 1.0, WORKLIST: 2.0, BATCH: 4.0}
# Grants to more urgent classes a waiting class lets pass before it goes (it still keeps to its share).
PATIENCE = {INTERACTIVE: 0, WORKLIST: 4, BATCH: 8}
# A backend whose calls queued or were shed this recently is reported saturated.
SATURATED_FOR = 5.0

_class: ContextVar[str] = ContextVar("isthmus_priority", default=INTERACTIVE)


def current() -> str:
    """The priority class of the request being served."""
    return _class.get()


@contextmanager
def classed(name: str) -> Iterator[None]:
    """Every backend call inside this block queues in class `name`."""
    if name not in CLASSES:
        raise ValueError(f"unknown priority class {name!r}; one of {', '.join(CLASSES)}")
    token = _class.set(name)
    try:
        yield
    finally:
        _class.reset(token)


class Shared(Protocol):
    """The budget as one for every replica (sources/shared_budget.py)."""

    replicas: int

    @property
    def up(self) -> bool: ...

    async def acquire(self, klass: str, limit: int, cap: int, wait: float) -> str | None:
        """A lease id; None when Redis cannot be asked (go on with this replica's share). Raises
        `TimeoutError` when no slot or token came within `wait` seconds."""
        ...

    async def release(self, lease: str) -> None: ...


@dataclass(eq=False)
class _Waiter:
    klass: str
    future: asyncio.Future[None]


@dataclass(eq=False)
class Lease:
    """One granted call. The client notes how the call went; `release` gives the slot back."""

    budget: Budget
    klass: str
    shared: str | None = None
    latency: float | None = None  # seconds the backend took to answer, when it answered
    dropped: bool = False  # the backend's own timeout ran out
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.budget._release(self)


class AdaptiveLimit:
    """A concurrency limit that follows the backend's latency (after Netflix's Vegas and AIMD limits).

    Per window (at least `window` seconds and `min_samples` answers) the median latency is
    compared with the baseline, the lowest window median seen (which creeps up by `drift` a
    window, doubling in about three minutes of windows, so a lasting change becomes the new
    normal while a spike of seconds does not). Above `tolerance` times the baseline
    (and `slack` seconds over it), or when a call ran into its timeout, the limit shrinks by a
    fifth (at least 1); otherwise it grows back by a quarter (at least 1), up to the configured
    budget. Queueing in the backend shows as latency before it shows as errors.
    """

    def __init__(
        self,
        maximum: int,
        *,
        minimum: int = 1,
        tolerance: float = 1.5,
        slack: float = 0.005,
        window: float = 0.5,
        min_samples: int = 5,
        drift: float = 0.002,
    ) -> None:
        self.maximum = maximum
        self.minimum = max(1, min(minimum, maximum))
        self.tolerance = tolerance
        self.slack = slack
        self.window = window
        self.min_samples = min_samples
        self.drift = drift
        self.limit = maximum
        self.baseline: float | None = None
        self._samples: list[float] = []
        self._dropped = False
        self._since = time.monotonic()

    def observe(self, latency: float | None, dropped: bool) -> bool:
        """One finished call; True when the limit changed. A call that says nothing of the backend's
        latency (not answered, not timed out) counts for nothing."""
        if latency is None and not dropped:
            return False
        if latency is not None:
            self._samples.append(latency)
        self._dropped = self._dropped or dropped
        now = time.monotonic()
        if now - self._since < self.window or (len(self._samples) < self.min_samples and not self._dropped):
            return False
        before = self.limit
        if self._samples:
            rtt = statistics.median(self._samples)
            self.baseline = rtt if self.baseline is None else min(rtt, self.baseline * (1 + self.drift))
            slow = rtt > self.baseline * self.tolerance + self.slack
        else:
            slow = False
        if self._dropped or slow:
            self.limit = max(self.minimum, min(self.limit - 1, math.floor(self.limit * 0.8)))
        else:
            self.limit = min(self.maximum, self.limit + max(1, math.ceil(self.limit * 0.25)))
        self._samples, self._dropped, self._since = [], False, now
        return self.limit != before


@dataclass
class Budget:
    """One backend's budget in this process (see the module notes)."""

    source: str
    concurrency: int
    rate: float = 0.0  # calls per second; 0: no rate limit
    max_wait: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MAX_WAIT))
    shares: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SHARES))
    adaptive: AdaptiveLimit | None = None
    shared: Shared | None = None

    def __post_init__(self) -> None:
        self.in_flight = 0
        self.by_class = dict.fromkeys(CLASSES, 0)  # calls in flight per class
        self.peak = 0  # the most calls in flight at once since the start
        self.sheds = 0
        self._queues: dict[str, deque[_Waiter]] = {klass: deque() for klass in CLASSES}
        self._tokens = self._burst
        self._tokens_at = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None
        self._last_pressure = -math.inf
        self._passed = dict.fromkeys(CLASSES, 0)  # grants to more urgent classes while this one waited

    # --- what operators see ---------------------------------------------------------

    @property
    def limit(self) -> int:
        """Calls at once this process may make now: the adaptive limit or the configured one, or
        its share of the shared budget while Redis is away."""
        limit = self.adaptive.limit if self.adaptive is not None else self.concurrency
        if self.shared is not None and not self.shared.up:
            limit = max(1, limit // max(1, self.shared.replicas))
        return limit

    def queued(self) -> dict[str, int]:
        return {klass: len(queue) for klass, queue in self._queues.items()}

    @property
    def saturated(self) -> bool:
        """Calls are queueing now, or queued or were shed within the last SATURATED_FOR seconds."""
        return any(self._queues.values()) or time.monotonic() - self._last_pressure < SATURATED_FOR

    def status(self) -> dict[str, object]:
        return {
            "limit": self.limit,
            "inFlight": self.in_flight,
            "queued": self.queued(),
            "saturated": self.saturated,
        }

    # --- admission ------------------------------------------------------------------

    async def acquire(self, method: str) -> Lease:
        """A slot for one call of the current class; waits its turn, or raises `BackendBusy`."""
        klass = current()
        started = time.monotonic()
        wait = max(0.0, min(self.max_wait.get(klass, DEFAULT_MAX_WAIT[klass]), deadline.remaining(math.inf)))
        while True:
            if self._fits(klass) and not self._queues[klass]:
                self._take(klass)
            else:
                await self._queue(klass, method, max(0.0, wait - (time.monotonic() - started)))
            lease = Lease(self, klass)
            if self.shared is not None and self.shared.up:
                try:
                    limit = self.adaptive.limit if self.adaptive else self.concurrency
                    left = max(0.0, wait - (time.monotonic() - started))
                    lease.shared = await self.shared.acquire(klass, limit, self._cap(klass, limit), left)
                except TimeoutError:
                    lease.release()
                    raise self._shed(klass, method) from None
                except BaseException:
                    lease.release()
                    raise
            if lease.shared is not None or self.in_flight <= self.limit:
                break
            # Let in under the whole shared budget, and Redis went away since: in again, within the share.
            lease.release()
        events.budget_wait(self.source, klass, time.monotonic() - started)
        return lease

    async def _queue(self, klass: str, method: str, wait: float) -> None:
        waiter = _Waiter(klass, asyncio.get_running_loop().create_future())
        self._queues[klass].append(waiter)
        self._last_pressure = time.monotonic()
        self._dispatch()  # a slot may be free for it while a higher class is held back by its share
        try:
            await asyncio.wait({waiter.future}, timeout=wait)  # cancels nothing on timeout
        except BaseException:  # cancelled while queued: give back a slot granted meanwhile
            if waiter.future.done() and not waiter.future.cancelled():
                self._give_back(klass)
            else:
                waiter.future.cancel()
                self._forget(waiter)
            raise
        if not waiter.future.done():
            waiter.future.cancel()
            self._forget(waiter)
            raise self._shed(klass, method)

    def _shed(self, klass: str, method: str) -> BackendBusy:
        self.sheds += 1
        self._last_pressure = time.monotonic()
        events.budget_shed(self.source, klass)
        retry = max(1, math.ceil(self.max_wait.get(klass, 1.0)))
        return BackendBusy(
            self.source, method, f"no {klass} slot within the wait ({self.limit} calls at once)", retry_after=retry
        )

    def _forget(self, waiter: _Waiter) -> None:
        with suppress(ValueError):  # already granted or dropped
            self._queues[waiter.klass].remove(waiter)

    def _cap(self, klass: str, limit: int) -> int:
        """Calls of `klass` that may be in flight at once."""
        return max(1, math.ceil(limit * self.shares.get(klass, 1.0)))

    def _fits(self, klass: str) -> bool:
        limit = self.limit
        if self.in_flight >= limit or self.by_class[klass] >= self._cap(klass, limit):
            return False
        return self._local_rate <= 0 or self._refill() >= 1.0

    def _take(self, klass: str) -> None:
        self.in_flight += 1
        self.by_class[klass] += 1
        self.peak = max(self.peak, self.in_flight)
        if self._local_rate > 0:
            self._tokens -= 1.0

    def _release(self, lease: Lease) -> None:
        if lease.shared is not None and self.shared is not None:
            task = asyncio.get_running_loop().create_task(self.shared.release(lease.shared))
            _releases.add(task)
            task.add_done_callback(_releases.discard)
        if self.adaptive is not None and self.adaptive.observe(lease.latency, lease.dropped):
            events.budget_limit(self.source, self.limit)
        self._give_back(lease.klass)

    def _give_back(self, klass: str) -> None:
        self.in_flight -= 1
        self.by_class[klass] -= 1
        self._dispatch()

    def _dispatch(self) -> None:
        """Grant what fits: the most urgent class first, oldest first within a class, unless a less
        urgent one has been passed over its PATIENCE."""
        while (klass := self._next()) is not None:
            waiter = self._queues[klass].popleft()
            self._take(klass)
            waiter.future.set_result(None)
            self._passed[klass] = 0
            for other in CLASSES[CLASSES.index(klass) + 1 :]:
                if self._queues[other]:
                    self._passed[other] += 1
        if self._local_rate > 0 and self._timer is None and any(self._queues.values()) and self._refill() < 1.0:
            # Waiting for a token, not (only) a slot: look again when the next one is due.
            due = max(0.001, (1.0 - self._tokens) / self._local_rate)
            self._timer = asyncio.get_running_loop().call_later(due, self._tick)

    def _next(self) -> str | None:
        """The class whose oldest waiter goes next, if any fits now."""
        ready = []
        for klass in CLASSES:
            queue = self._queues[klass]
            while queue and queue[0].future.done():  # cancelled, or shed and not yet forgotten
                queue.popleft()
            if queue and self._fits(klass):
                ready.append(klass)
        overdue = [klass for klass in ready if klass != ready[0] and self._passed[klass] >= PATIENCE[klass]]
        return overdue[0] if overdue else ready[0] if ready else None

    def _tick(self) -> None:
        self._timer = None
        self._dispatch()

    # --- the token bucket -----------------------------------------------------------

    @property
    def _local_rate(self) -> float:
        """Calls per second this process counts itself: none while Redis counts for all, its share when away."""
        if self.shared is None:
            return self.rate
        return 0.0 if self.shared.up else self.rate / max(1, self.shared.replicas)

    @property
    def _burst(self) -> float:
        return max(1.0, self.rate)

    def _refill(self) -> float:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._tokens_at) * self._local_rate)
        self._tokens_at = now
        return self._tokens


# Releases of shared leases under way: the loop keeps only weak references to tasks.
_releases: set[asyncio.Task[None]] = set()
