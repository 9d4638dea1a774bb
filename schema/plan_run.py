"""Executing an operation plan a layer at a time (the plan: `schema.plan`).

graphql-core executes field by field: per object and per field an info object, a
resolver call, a completion, often an awaitable, and the next level's backend
calls wait until this level's fields are completed. Here a *wave* is everything
that can run now. For each selection in it, every resolver is called for all its
objects at once (their loader loads fall into one batch per source method), the
objects a resolver or attribute hands over synchronously join the same wave, and
the wave's awaitables are gathered once. Before this wave's plain scalar fields are
completed (by the selection's generated row builder, one call per object), the
loaders are told to dispatch, so the gateway's CPU work overlaps the backends'
latency. When the records arrive, they make the next wave.

Errors follow graphql-core's rules: an error nulls its field and is reported at its
path; a null in a non-null position nulls the nearest nullable ancestor. One
difference, on purpose: every error that occurred is reported, where graphql-core
drops those that arrive after a nulling (so its answer there depends on timing).
The differential test holds both executors to the same answers otherwise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from contextlib import nullcontext
from types import CoroutineType
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo, get_directive_values, located_error
from graphql.execution.executor import Executor as GraphQLExecutor
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path

from resolvers.access import Forbidden
from resolvers.context import Context
from schema.plan import FieldStep, OperationPlan, Selection
from schema.reference import is_awaitable
from sources import freshness

# Where an object's (or list's) value sits in the response, so an error can null it:
# (container, key, nullable, parent slot). A plain tuple: one is made per object.
_Slot = tuple[Any, Any, bool, Any]


class _Item:
    """One object to complete against a selection: its record, its response dict, its place."""

    __slots__ = ("max_age", "out", "path", "slot", "source")

    def __init__(self, source: Any, out: dict[str, Any], path: Path | None, slot: _Slot | None, max_age: Any) -> None:
        self.source = source
        self.out = out
        self.path = path
        self.slot = slot
        self.max_age = max_age


class _Propagating(Exception):
    """An error at a non-null list item, on its way to the field's position (already located)."""

    def __init__(self, located: GraphQLError) -> None:
        super().__init__(located.message)
        self.located = located


def _propagating(step: FieldStep, error: Exception, path: Path) -> _Propagating:
    if isinstance(error, _Propagating):
        return error
    return _Propagating(located_error(error, step.nodes, path.as_list()))


def _built_at_once(selection: Selection, source: Any) -> dict[str, Any] | None:
    """The object built by its selection's `at_once`, or None when a value needs the field-by-field path."""
    assert selection.at_once is not None
    out = selection.template.copy()
    try:
        selection.at_once(source, out)
    except Exception:  # noqa: BLE001 - the field-by-field path completes it and reports what failed
        return None
    return out


Work = list[tuple[Selection, list[_Item]]]
Pending = tuple[FieldStep, _Item | list[_Item], Any]  # a batch's entry holds all its objects


class PlanRun:
    """One execution of a plan: the response being built and its errors."""

    def __init__(self, plan: OperationPlan, base: GraphQLExecutor, context: Context) -> None:
        self.plan = plan
        self.base = base  # graphql-core's executor for this request: variables, fragments, info fields
        self.context = context
        self.errors: list[GraphQLError] = []
        self.data: dict[str, Any] | None = None
        self._arguments: dict[int, dict[str, Any]] = {}
        self._fresh = base.schema.get_directive("fresh")

    async def run(self) -> tuple[dict[str, Any] | None, list[GraphQLError]]:
        root = self.plan.root
        self.data = dict(root.template)
        wave: Work = [(root, [_Item(self.base.root_value, self.data, None, None, None)])]
        waiting = 0.0
        while wave:
            pending: list[Pending] = []
            rows: Work = []
            self._start(wave, pending, rows)
            if pending:
                gathered = asyncio.gather(*(awaitable for _, _, awaitable in pending), return_exceptions=True)
                # Let the resolvers reach their loads and send them, then complete while the backends work.
                await asyncio.sleep(0)
                self.context.loaders.dispatch_queued()
            self._fill_rows(rows)
            if not pending:
                break
            started = time.perf_counter()
            results = await gathered
            waiting += time.perf_counter() - started
            wave = []
            for (step, item, _), result in zip(pending, results, strict=True):
                if isinstance(result, BaseException) and not isinstance(result, Exception):
                    raise result
                if isinstance(item, list):  # a batch: one answer per object, or what it failed with
                    answers = result if isinstance(result, Exception) else iter(result)
                    for one in item:
                        self._settle(step, one, answers if isinstance(answers, Exception) else next(answers), wave)
                else:
                    self._settle(step, item, result, wave)
        self.context.spent("waiting", waiting)
        return self.data, self.errors

    # --- starting a wave -----------------------------------------------------------

    def _start(self, wave: Work, pending: list[Pending], rows: Work) -> None:
        """Call every resolver of the wave; objects handed over at once join it (and `rows`)."""
        index = 0
        while index < len(wave):  # in order; objects completed on the way are appended
            selection, items = wave[index]
            index += 1
            if selection.nulled_by is not None:
                self._deny_object(selection.nulled_by, items)
                continue
            if selection.row is not None:
                rows.append((selection, items))
            for step in selection.others:
                if step.denied:
                    self._deny(step, items)
                elif step.resolve is None:
                    attribute = step.attribute
                    for item in items:
                        try:
                            value = getattr(item.source, attribute)
                        except Exception as error:  # noqa: BLE001 - reported at the field
                            self._field_error(step, item, error)
                            continue
                        self._complete_field(step, item, value, wave)
                else:
                    self._call(step, items, pending, wave)

    def _call(self, step: FieldStep, items: list[_Item], pending: list[Pending], wave: Work) -> None:
        try:
            arguments = self._arguments_of(step)
        except Exception as error:  # noqa: BLE001 - a bad argument fails the field, as in graphql-core
            for item in items:
                self._field_error(step, item, error)
            return
        if step.batch is not None:
            self._call_batch(step, items, arguments, pending, wave)
            return
        resolve = step.resolve
        assert resolve is not None
        for item in items:
            info = self._info(step, Path(item.path, step.response_name, step.parent.name))
            max_age = self._max_age(step, item)
            try:
                with freshness.subtree(max_age) if max_age is not None else nullcontext():
                    value = resolve(item.source, info, **arguments)
                    if max_age is not None and isinstance(value, CoroutineType):
                        # the task copies the requirement now, so the resolver's body runs under it
                        value = asyncio.ensure_future(value)
            except Exception as error:  # noqa: BLE001 - reported at the field
                self._field_error(step, item, error)
                continue
            if is_awaitable(value):
                pending.append((step, item, value))
            else:
                self._complete_field(step, item, value, wave)

    def _call_batch(
        self, step: FieldStep, items: list[_Item], arguments: dict[str, Any], pending: list[Pending], wave: Work
    ) -> None:
        """One call for all the objects: one awaitable for the layer (or the answers at once), not one per object."""
        batch = step.batch
        assert batch is not None
        info = self._info(step, Path(items[0].path, step.response_name, step.parent.name))
        max_age = self._max_age(step, items[0])  # the same for all: they share their ancestors' fields
        try:
            with freshness.subtree(max_age) if max_age is not None else nullcontext():
                assert step.convert is not None
                answer = batch([item.source for item in items], info, **step.convert(arguments))
                if not isinstance(answer, list):
                    answer = asyncio.ensure_future(answer)
        except Exception as error:  # noqa: BLE001 - reported at the field of every object
            for item in items:
                self._field_error(step, item, error)
            return
        if isinstance(answer, list):
            for item, value in zip(items, answer, strict=True):
                self._settle(step, item, value, wave)
        else:
            pending.append((step, items, answer))

    def _info(self, step: FieldStep, path: Path) -> GraphQLResolveInfo:
        base = self.base
        return GraphQLResolveInfo(
            step.name,
            step.nodes,
            step.definition.type,
            step.parent,
            path,
            base.schema,
            base.fragment_definitions,
            base.root_value,
            base.operation,
            base.variable_values,
            self.context,
            base.is_awaitable,
            None,
            base.async_helpers,
        )

    def _arguments_of(self, step: FieldStep) -> dict[str, Any]:
        if step.arguments is not None:
            return step.arguments
        found = self._arguments.get(id(step))
        if found is None:
            found = self._arguments[id(step)] = get_argument_values(
                step.definition, step.nodes[0], self.base.variable_values
            )
        return found

    def _max_age(self, step: FieldStep, item: _Item) -> Any:
        if step.fresh is None or self._fresh is None:
            return item.max_age
        values = get_directive_values(self._fresh, step.fresh, self.base.variable_values)
        if values is None:
            return item.max_age
        own = float(values["maxAge"])
        return own if item.max_age is None else min(own, item.max_age)

    # --- completing ------------------------------------------------------------------

    def _settle(self, step: FieldStep, item: _Item, result: Any, wave: Work) -> None:
        if isinstance(result, Exception):
            self._field_error(step, item, result)
        else:
            self._complete_field(step, item, result, wave)

    def _complete_field(self, step: FieldStep, item: _Item, value: Any, wave: Work) -> None:
        """Put a field's value into its object, completed per its type; objects go to `wave`."""
        path = Path(item.path, step.response_name, step.parent.name)
        slot = (item.out, step.response_name, step.nullable, item.slot)
        try:
            item.out[step.response_name] = self._complete(step, 0, value, path, slot, item.max_age, wave)
        except Exception as error:  # noqa: BLE001 - reported at the field
            self._field_error(step, item, error, path)

    def _complete(
        self, step: FieldStep, level: int, value: Any, path: Path, slot: _Slot, max_age: Any, wave: Work
    ) -> Any:
        shape = step.shape
        if isinstance(value, Exception):
            raise value
        if value is None:
            if shape[level] == "!":
                raise TypeError(f"Cannot return null for non-nullable field {step.parent.name}.{step.name}.")
            return None
        if level + 1 < len(shape):  # a list level
            if value.__class__ is not list and (
                isinstance(value, str | bytes | dict) or not isinstance(value, Iterable)
            ):
                raise GraphQLError(
                    f"Expected Iterable, but did not find one for field '{step.parent.name}.{step.name}'."
                )
            completed: list[Any] = []
            item_nullable = shape[level + 2] != "!"
            selection = step.selection
            rows = selection.at_once if selection is not None and level + 3 == len(shape) else None
            for index, element in enumerate(value):
                if rows is not None and element is not None:
                    assert selection is not None
                    built = _built_at_once(selection, element)
                    if built is not None:
                        completed.append(built)
                        continue
                completed.append(None)
                item_path = path.add_key(index)
                try:
                    completed[index] = self._complete(
                        step,
                        level + 2,
                        element,
                        item_path,
                        (completed, index, item_nullable, slot),
                        max_age,
                        wave,
                    )
                except Exception as error:  # noqa: BLE001 - the item's position takes it, or passes it up
                    if not item_nullable:
                        raise _propagating(step, error, item_path) from None
                    self._record(step, error, item_path)
            return completed
        if step.serialize is not None:
            completed_leaf = step.serialize(value)
            if completed_leaf is None:
                raise TypeError(f"Expected `{step.definition.type}` to serialise {value!r} to a non-null value.")
            return completed_leaf
        selection = step.selection
        assert selection is not None
        if selection.at_once is not None:
            built = _built_at_once(selection, value)
            if built is not None:
                return built
        out = selection.template.copy()
        child = _Item(value, out, path, slot, max_age)
        if wave and wave[-1][0] is selection:
            wave[-1][1].append(child)
        else:
            wave.append((selection, [child]))
        return out

    def _fill_rows(self, rows: Work) -> None:
        """The plain scalar fields of every object, by the selections' row builders."""
        for selection, items in rows:
            row = selection.row
            assert row is not None
            for item in items:
                try:
                    row(item.source, item.out)
                except Exception:  # noqa: BLE001 - the field-by-field path reports exactly what failed
                    self._fill_slowly(selection, item)

    def _fill_slowly(self, selection: Selection, item: _Item) -> None:
        scratch: Work = []
        for step in selection.plain:
            try:
                value = getattr(item.source, step.attribute)
            except Exception as error:  # noqa: BLE001 - reported at the field
                self._field_error(step, item, error)
                continue
            self._complete_field(step, item, value, scratch)

    # --- errors and nulls -------------------------------------------------------------

    def _deny(self, step: FieldStep, items: list[_Item]) -> None:
        """A field the caller may not read: null and one FORBIDDEN error per path; nothing ran."""
        self.context.denied.add(step.coordinate)
        for item in items:
            self._field_error(step, item, Forbidden.to_read(step.coordinate))

    def _deny_object(self, step: FieldStep, items: list[_Item]) -> None:
        """A denied non-null field nulls its object: one FORBIDDEN error, nothing else of it runs."""
        self.context.denied.add(step.coordinate)
        for item in items:
            path = Path(item.path, step.response_name, step.parent.name)
            self._record(step, Forbidden.to_read(step.coordinate), path)
            self._null(item.slot)

    def _field_error(self, step: FieldStep, item: _Item, error: Exception, path: Path | None = None) -> None:
        """The field's position takes the error: null there, or (non-null) at the nearest nullable ancestor."""
        path = path or Path(item.path, step.response_name, step.parent.name)
        self._record(step, error, path)
        if step.nullable:
            item.out[step.response_name] = None
        else:
            self._null(item.slot)

    def _record(self, step: FieldStep, error: Exception, path: Path) -> None:
        """Report an error, also below a position already nulled: every error that occurred is reported.

        (graphql-core drops those that arrive after the nulling, which makes its answer depend on
        timing; tests/test_differential.py states the difference.)
        """
        located = error.located if isinstance(error, _Propagating) else located_error(error, step.nodes, path.as_list())
        self.errors.append(located)

    def _null(self, slot: _Slot | None) -> None:
        """Null the nearest nullable position at or above `slot` (past the root: all of `data`)."""
        while slot is not None and not slot[2]:
            slot = slot[3]
        if slot is None:
            self.data = None
            return
        container, key, _, _ = slot
        container[key] = None
