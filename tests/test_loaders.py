"""Loader dispatch and batching, in process: what reaches a source method, and when.

The loaders sit between the resolvers and the sources; here the sources are
recorders, so the tests count batches exactly. The end-to-end count over the
360 page (5 customers cost what 50 do) stays in tests/test_backend_calls.py.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from resolvers.loaders import DISPATCH_AFTER_ITERATIONS, Loaders
from sources import freshness
from sources.errors import SourceUnavailable


class Recorder:
    """A source method that records each batch it is asked for, and what freshness each key needed."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list] = []
        self.limits: list[dict] = []
        self.fail = fail

    async def __call__(self, keys: list) -> list:
        self.batches.append(list(keys))
        self.limits.append({key: freshness.limit(300.0, key) for key in keys})
        if self.fail:
            raise SourceUnavailable("ERP", "stock", "scripted outage")
        return [None if key == "UNKNOWN" else {"sku": key} for key in keys]


def loaders_over(stock: Recorder, *, batching: bool = True) -> Loaders:
    backends = SimpleNamespace(erp=SimpleNamespace(stock=stock), crm=SimpleNamespace(customers=Recorder()))
    return Loaders(backends, batching=batching)  # type: ignore[arg-type]


async def after_iterations(n: int, load) -> object:
    for _ in range(n):
        await asyncio.sleep(0)
    return await load()


async def test_loads_reaching_a_loader_a_few_iterations_apart_share_one_batch():
    stock = Recorder()
    loader = loaders_over(stock).stock_by_sku
    # nested lists reach the loader after different numbers of loop iterations
    results = await asyncio.gather(*(
        after_iterations(n, lambda sku=f"S{n}": loader.load(sku)) for n in range(DISPATCH_AFTER_ITERATIONS - 2)
    ))
    assert stock.batches == [[f"S{n}" for n in range(DISPATCH_AFTER_ITERATIONS - 2)]]
    assert [r["sku"] for r in results] == [f"S{n}" for n in range(DISPATCH_AFTER_ITERATIONS - 2)]


async def test_a_key_asked_twice_in_a_request_is_fetched_once_and_later_served_without_a_call():
    stock = Recorder()
    loader = loaders_over(stock).stock_by_sku
    first, again = await asyncio.gather(loader.load("S1"), loader.load("S1"))
    assert first == again == {"sku": "S1"}
    assert loader.load_now("S1") == {"sku": "S1"}  # already there: the value itself, no awaitable
    assert stock.batches == [["S1"]]


async def test_without_batching_each_key_is_its_own_call():
    stock = Recorder()
    loader = loaders_over(stock, batching=False).stock_by_sku
    await asyncio.gather(loader.load("S1"), loader.load("S2"))
    assert sorted(stock.batches) == [["S1"], ["S2"]]


async def test_a_failed_batch_puts_its_error_in_every_slot_and_an_unknown_key_is_none():
    failing = loaders_over(Recorder(fail=True)).stock_by_sku
    outcomes = await asyncio.gather(failing.load("S1"), failing.load("S2"), return_exceptions=True)
    assert all(isinstance(outcome, SourceUnavailable) for outcome in outcomes)
    assert outcomes[0] is outcomes[1]  # one failed call, one error
    working = loaders_over(Recorder()).stock_by_sku
    assert await asyncio.gather(working.load("S1"), working.load("UNKNOWN")) == [{"sku": "S1"}, None]


async def test_a_stricter_fresh_ask_loads_the_key_again_and_only_for_that_key():
    stock = Recorder()
    loader = loaders_over(stock).stock_by_sku
    await loader.load("S1")
    with freshness.subtree(0.0):
        fresh = loader.load("S1")
    plain = loader.load("S2")
    await asyncio.gather(fresh, plain)
    assert stock.batches == [["S1"], ["S1", "S2"]]
    assert stock.limits[1] == {"S1": 0.0, "S2": 300.0}  # the ask reaches the cache for its key alone
    with freshness.subtree(10.0):
        await loader.load("S1")  # a laxer ask is served by the stricter load
    assert len(stock.batches) == 2


async def test_customers_seen_once_are_found_by_any_of_their_refs_without_a_call():
    loaders = loaders_over(Recorder())
    customer = SimpleNamespace(id="C1", refs=SimpleNamespace(erp="P1", clm=None, desk="D1"))
    loaders.remember_customers([customer, None])
    assert loaders.customer_by_id.load_now("C1") is customer
    assert loaders.customer_by_erp_ref.load_now("P1") is customer
    assert loaders.customer_by_desk_ref.load_now("D1") is customer
    assert loaders.backends.crm.customers.batches == []


@pytest.mark.parametrize("loader", ["stock_by_sku", "customer_by_id"])
async def test_each_request_has_its_own_loaders(loader):
    backends_stock = Recorder()
    first, second = loaders_over(backends_stock), loaders_over(backends_stock)
    assert getattr(first, loader) is getattr(first, loader)
    assert getattr(first, loader) is not getattr(second, loader)
