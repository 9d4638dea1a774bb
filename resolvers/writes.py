"""Writes through to the systems of record: the contract every mutation keeps.

- **One key, one outcome.** Every mutation takes an `idempotencyKey` (the caller's: 1 to
  100 printable characters, no spaces). The same key with the same input answers the same
  outcome and writes nothing again, also when requests with it arrive at once or through
  other replicas; the same key with other input is IDEMPOTENCY_KEY_REUSED
  (sources/idempotency.py).
- **Steps, each idempotent.** A mutation is one or more writes (steps), each to the system
  that owns the record, each sent with a key derived from the caller's key and the step's
  name (`step_key`), so a system that has seen it answers the record it made instead of
  making another. There is no distributed transaction: the steps run in order, and what
  each step will send is recorded before it is sent (`Progress.save`), so a retry resends
  the same bodies.
- **When a step fails.** The first step failing fails the mutation: nothing was written
  (SOURCE_UNAVAILABLE, BAD_USER_INPUT, ...) or it cannot be known (OUTCOME_UNKNOWN: retry
  with the same key; the retry settles it, with exactly one record at the system). A later
  step failing answers the outcome with `status: INCOMPLETE`, `steps` saying which were
  done and which not, and the failing system's coded error beside it; a retry with the
  same key does the steps not yet done. Nothing is retried without the key.
- **Authorisation** is the policy's `write` line for `Mutation.<name>` (the field guard),
  then the row-level rules on every record the input names: one the caller may not see
  is refused exactly as an unknown one.
- **Bad input** is BAD_USER_INPUT naming the field, before anything is written.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec

from resolvers.context import Context
from resolvers.errors import BadUserInput
from sources.errors import SourceError, SourceRejected
from sources.idempotency import IdempotencyStore, Progress

T = TypeVar("T")
KEY = re.compile(r"[\x21-\x7e]{1,100}")


class Step(msgspec.Struct, kw_only=True):
    """One write of a mutation: where it goes, whether it was done, the record it made or why not."""

    name: str
    system: str
    done: bool = False
    reference: str | None = None
    error_code: str | None = None
    message: str | None = None


def check_key(key: str) -> None:
    if not KEY.fullmatch(key):
        raise BadUserInput("`idempotencyKey` must be 1 to 100 printable ASCII characters without spaces.")


def step_key(ctx: Context, key: str, step: str) -> str:
    """The key a step is sent with: the same for every attempt of the caller's key, unique to the step."""
    digest = hashlib.sha256(f"{ctx.principal.id}\0{key}\0{step}".encode()).hexdigest()
    return f"isthmus-{digest[:40]}"


async def once(
    ctx: Context,
    operation: str,
    key: str,
    arguments: dict[str, Any],
    outcome: type[T],
    work: Callable[[Progress], Awaitable[tuple[T, bool]]],
) -> T:
    """`work`'s outcome for this key: made now, or the one made before (see the module notes)."""
    check_key(key)
    fingerprint = IdempotencyStore.fingerprint(operation, arguments)

    async def run(progress: Progress) -> tuple[bytes, bool]:
        made, final = await work(progress)
        return msgspec.json.encode(made), final

    raw = await ctx.idempotency.run(ctx.principal.id, key, fingerprint, run)
    return msgspec.json.decode(raw, type=outcome)


def previous(progress: Progress, outcome: type[T]) -> T | None:
    return None if progress.previous is None else msgspec.json.decode(progress.previous, type=outcome)


async def save(progress: Progress, made: Any) -> None:
    await progress.save(msgspec.json.encode(made))


def rejected_input(exc: SourceRejected, fields: dict[str, str]) -> BadUserInput:
    """A system's refusal of a write's input, naming the mutation's field (`fields`: its name -> ours)."""
    named = exc.field or ""
    ours = next((mine for theirs, mine in fields.items() if named == theirs or named.startswith(theirs + ".")), None)
    if ours is None:
        return BadUserInput(f"{exc.source} refused the input: {exc.detail}. Nothing was written.")
    rest = named.removeprefix(next(t for t, m in fields.items() if m == ours))
    path = ours + re.sub(r"\.(\d+)", r"[\1]", rest)
    return BadUserInput(f"`{path}`: {exc.source} refused it ({exc.detail}). Nothing was written.")


def failed_step(step: Step, exc: SourceError) -> Step:
    step.done = False
    step.error_code = exc.code
    step.message = exc.public_message
    return step
