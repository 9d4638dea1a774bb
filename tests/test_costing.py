"""BOM cost roll-up: equal to a person's roll-up of the ERP's REST data, one call per level, no hang on a cycle."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from expected import d
from resolvers import quote as quoting
from resolvers.context import Context, Principal
from resolvers.costing import MAX_BOM_DEPTH, BomCycle, explode_many, roll_up, rolled_up_cost
from resolvers.loaders import Loaders
from sources.records import BomLine, Customer, Product

COSTS = "query($skus: [ID!]!) { products(skus: $skus) { sku standardCost rolledUpCost } }"


def test_the_erp_has_boms_up_to_three_levels(catalogue):
    assert [len(catalogue.of_depth(depth)) > 0 for depth in range(4)] == [True] * 4
    assert catalogue.of_depth(4) == []


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_rolled_up_cost_at_every_depth(catalogue, gateway, depth):
    skus = catalogue.of_depth(depth)[:8]
    body = gateway.query(COSTS, {"skus": skus})
    assert "errors" not in body, body["errors"][:3]
    for product in body["data"]["products"]:
        sku = product["sku"]
        assert d(product["standardCost"]) == d(catalogue.products[sku]["standard_cost"])
        assert d(product["rolledUpCost"]) == catalogue.unit_cost(sku), sku
        if depth == 0:
            assert product["rolledUpCost"] == product["standardCost"]  # bought: standard cost
        else:
            # the assembly cost of every level counts: a roll-up without it is less
            without_own_level = catalogue.exact_cost(sku) - d(catalogue.products[sku]["assembly_cost"])
            assert d(product["rolledUpCost"]) > without_own_level


def test_one_bom_call_per_level_whatever_the_number_of_products(systems, gateway, catalogue):
    deepest = catalogue.of_depth(3)

    def routes(skus):
        systems.reset_stats()
        body = gateway.query(COSTS, {"skus": skus})
        assert "errors" not in body
        return systems.by_route()["erp"]

    one, many = routes(deepest[:1]), routes(deepest[:25])
    assert one == many, (one, many)
    # the root level, three BOM levels below it, and the bought leaves' (empty) BOMs
    assert many["/boms"] == 4
    assert many["/products"] == 4  # the first level's products are the ones `products(skus:)` loaded


# --- cycles and depth, against a stub ERP (the demo ERP has no cycles) --------------------------


class StubErp:
    def __init__(self, boms: dict[str, list[tuple[str, str]]], costs: dict[str, str]) -> None:
        self.bom_lines = boms
        self.costs = costs
        self.calls: list[tuple[str, int]] = []

    async def boms(self, skus):
        self.calls.append(("boms", len(skus)))
        return [
            [BomLine(parent_sku=sku, component_sku=c, quantity=Decimal(q)) for c, q in self.bom_lines.get(sku, [])]
            for sku in skus
        ]

    async def products(self, skus):
        self.calls.append(("products", len(skus)))
        return [
            Product(sku=sku, name=sku, standard_cost=Decimal(self.costs[sku]), assembly_cost=Decimal("1.00"))
            if sku in self.costs else None
            for sku in skus
        ]

    async def stock(self, skus):
        return [[] for _ in skus]


class StubCrm:
    async def customers(self, ids):
        return [Customer(id=i, name="Stub customer") for i in ids]


class StubBackends:
    def __init__(self, erp: StubErp) -> None:
        self.erp = erp
        self.crm = StubCrm()


def context(erp: StubErp) -> Context:
    return Context(principal=Principal(id="test"), loaders=Loaders(StubBackends(erp)), request_id="test")


CYCLIC = StubErp(
    boms={
        "A": [("B", "2"), ("P", "1")],
        "B": [("C", "1")],
        "C": [("A", "1")],  # A -> B -> C -> A
        "K": [("P", "3"), ("Q", "0.5")],  # fine, and shares P with the cycle
    },
    costs={"A": "10", "B": "10", "C": "10", "K": "10", "P": "2.00", "Q": "4.00"},
)


async def test_a_cycle_is_an_error_for_its_product_not_a_hang():
    erp = StubErp(CYCLIC.bom_lines, CYCLIC.costs)
    with pytest.raises(BomCycle, match="A -> B -> C -> A"):
        await asyncio.wait_for(rolled_up_cost(context(erp), "A"), timeout=2)


async def test_a_cycle_fails_only_the_products_in_it():
    erp = StubErp(CYCLIC.bom_lines, CYCLIC.costs)
    tree = await asyncio.wait_for(explode_many(context(erp), ["A", "K", "P"]), timeout=2)
    with pytest.raises(BomCycle):
        roll_up("A", tree)
    assert roll_up("K", tree) == Decimal("1.00") + 3 * Decimal("2.00") + Decimal("0.5") * Decimal("4.00")
    assert roll_up("P", tree) == Decimal("2.00")
    # level by level for all three roots together: one call per source method per level
    assert erp.calls.count(("boms", 3)) == 1 and len([c for c in erp.calls if c[0] == "boms"]) <= 4


async def test_a_chain_deeper_than_the_limit_is_an_error_not_a_hang():
    chain = {f"S{n}": [(f"S{n + 1}", "1")] for n in range(MAX_BOM_DEPTH + 5)}
    erp = StubErp(chain, {f"S{n}": "1" for n in range(MAX_BOM_DEPTH + 6)})
    with pytest.raises(BomCycle, match="deeper than"):
        await asyncio.wait_for(rolled_up_cost(context(erp), "S0"), timeout=2)


async def test_a_cycle_fails_its_quote_line_and_the_quote_says_the_margin_is_unknown():
    erp = StubErp(CYCLIC.bom_lines, CYCLIC.costs)
    line = lambda sku: type("Line", (), {"sku": sku, "quantity": Decimal(2), "unit_price": Decimal(100), "requested_date": None})()
    result = await asyncio.wait_for(
        quoting.evaluate(context(erp), customer_id="C1", lines=[line("K"), line("A")]), timeout=5
    )
    good, cyclic = result.lines
    assert good.cost_error is None and good.unit_cost == Decimal("9.00")
    assert isinstance(cyclic.cost_error, BomCycle)
    assert result.cost is None and isinstance(result.cost_error, BomCycle)
    assert result.total == Decimal("400.00")  # the line is valid; only its cost is unknown
    assert result.approval.required
    assert any(reason.startswith("Margin unknown (the cost of A is unknown") for reason in result.approval.reasons)
