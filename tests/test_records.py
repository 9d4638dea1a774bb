"""Backend answers become typed, immutable records, or a SOURCE_BAD_RESPONSE; never a crash.

In process: a source over an `httpx.MockTransport` backend answering what a test scripts.
How fast the options decode the demo systems' real answers is `scripts/decode_bench.py`.
"""

from __future__ import annotations

import datetime as dt
import gc
from decimal import Decimal

import httpx
import msgspec
import orjson
import pytest

from sources.erp import ErpSource
from sources.errors import SourceBadResponse
from sources.http import BackendClient
from sources.records import Customer, Order, OrderStatus, Refs
from sources.shared_cache import Shared, decode, encode

ORDER = {
    "id": "O1", "number": "SO-1", "party_code": "P1", "contract_number": None, "status": "CONFIRMED",
    "ordered_at": "2026-11-28T10:41:57Z", "promised_date": "2026-12-12", "currency": "EUR", "total": "4904.59",
    "shipped_amount": "0.00", "tax_amount": 931.87, "unknown_field": {"ignored": True},
    "lines": [{"line_no": 1, "sku": "SKU-1", "quantity": "1.00", "unit_price": "522.75", "tax_rate": "0.19"}],
}


def erp_answering(*bodies: bytes) -> ErpSource:
    answers = iter(bodies)
    client = BackendClient("ERP", "http://erp.invalid", transport="httpx", retries=0)
    client._client = httpx.AsyncClient(
        base_url=client.base_url, transport=httpx.MockTransport(lambda request: httpx.Response(200, content=next(answers)))
    )
    return ErpSource(client)


async def test_an_answer_decodes_into_typed_immutable_records_the_collector_does_not_track():
    erp = erp_answering(orjson.dumps({"items": [ORDER]}))
    ((order,),) = await erp.orders_by_party(["P1"])
    assert order.total == Decimal("4904.59") and order.tax_amount == Decimal("931.87")
    assert order.ordered_at == dt.datetime(2026, 11, 28, 10, 41, 57, tzinfo=dt.UTC)
    assert order.promised_date == dt.date(2026, 12, 12) and order.status is OrderStatus.CONFIRMED
    assert order.lines[0].unit_price == Decimal("522.75") and order.lines[0].amount is None
    assert order.paid_amount is None and not hasattr(order, "unknown_field")
    with pytest.raises(AttributeError):
        order.total = Decimal("0")  # type: ignore[misc]
    with pytest.raises(TypeError):
        Order("O1", "SO-1", "P1", OrderStatus.DONE)  # type: ignore[misc]  # keyword-only, as before
    # Records hold no cycles: tracking thousands per page would only lengthen every collection.
    assert not gc.is_tracked(order) and not gc.is_tracked(order.lines[0])
    await erp.http.aclose()


@pytest.mark.parametrize(("what", "body"), [
    ("truncated JSON (the demo systems' malformed fault)", b'{"items": [{"id": "'),
    ("not an envelope", b"[1, 2]"),
    ("a required field missing", orjson.dumps({"items": [{k: v for k, v in ORDER.items() if k != "status"}]})),
    ("a string where a number is", orjson.dumps({"items": [{**ORDER, "lines": [{**ORDER["lines"][0], "line_no": "one"}]}]})),
    ("a number where a string is", orjson.dumps({"items": [{**ORDER, "number": 17}]})),
    ("an unknown status", orjson.dumps({"items": [{**ORDER, "status": "LOST"}]})),
    ("a date that is no date", orjson.dumps({"items": [{**ORDER, "promised_date": "next week"}]})),
    ("NaN for an amount", orjson.dumps({"items": [{**ORDER, "total": "NaN"}]})),
    ("an infinite quantity in a line", orjson.dumps({"items": [{**ORDER, "lines": [{**ORDER["lines"][0], "quantity": "-Infinity"}]}]})),
])
async def test_a_malformed_answer_is_a_bad_response(what, body):
    erp = erp_answering(body)
    with pytest.raises(SourceBadResponse) as caught:
        await erp.orders_by_party(["P1"])
    assert caught.value.source == "ERP" and caught.value.method == "orders_by_party"
    assert "4904.59" not in caught.value.detail  # names where, never the value
    await erp.http.aclose()


def test_a_record_built_in_code_checks_its_decimals_too():
    with pytest.raises(ValueError, match="finite"):
        Order(id="O1", number="SO-1", party_code="P1", status=OrderStatus.DONE, total=Decimal("NaN"))


def test_records_survive_the_shared_cache_unchanged():
    customer = Customer(id="C1", name="Acme", last_activity_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC), refs=Refs(erp="P1"))
    order = msgspec.json.decode(orjson.dumps(ORDER), type=Order)
    for value in (customer, [order, order], None):
        assert Shared(0.0, encode(value), {"Customer": Customer, "Order": Order}).value() == value
    assert decode({"$": "Order", "v": orjson.loads(orjson.dumps(ORDER))}, {"Order": Order}) == order
