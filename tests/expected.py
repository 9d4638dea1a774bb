"""Figures recomputed straight from the demo systems' REST data, as a person would.

Independent of the gateway's resolvers on purpose: these are the tests' source of
truth for ATP, promise dates, BOM roll-ups, credit and risk.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
TODAY = dt.datetime.now(dt.UTC).date()
ZERO = Decimal(0)


def d(value):
    return Decimal(value) if value is not None else None


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# --- ATP ---------------------------------------------------------------------------


def stock_by_sku(rows: list[dict]) -> dict[str, list[dict]]:
    grouped = defaultdict(list)
    for row in rows:
        grouped[row["sku"]].append(row)
    return dict(grouped)


def atp(rows: list[dict], quantity: Decimal, warehouse: str | None = None, on: dt.date | None = None) -> dict:
    """projected(t) = on hand - allocated + planned movements by t (a late one arrives today);
    available(on) = the least projected(t) for t = `on` and every later planned day;
    promise date = the first day (today or a planned day) whose available covers `quantity`."""
    on = on or TODAY
    mine = [r for r in rows if warehouse is None or r["warehouse"] == warehouse]
    on_hand = sum((d(r["on_hand"]) for r in mine), ZERO)
    allocated = sum((d(r["allocated"]) for r in mine), ZERO)
    moves = [(max(day(x["expected_date"]), TODAY), d(x["quantity"])) for r in mine for x in r["receipts"]]
    free = on_hand - allocated

    def projected(t: dt.date) -> Decimal:
        return free + sum((q for when, q in moves if when <= t), ZERO)

    def available(t: dt.date) -> Decimal:
        return min([projected(t)] + [projected(when) for when, _ in moves if when > t])

    candidates = sorted({TODAY} | {when for when, _ in moves})
    promise = next((t for t in candidates if available(t) >= quantity), None)
    return {
        "onHand": on_hand,
        "allocated": allocated,
        "incoming": sum((q for when, q in moves if when <= on), ZERO),
        "projected": projected(max(on, TODAY)),
        "available": available(max(on, TODAY)),
        "canPromise": available(max(on, TODAY)) >= quantity,
        "promiseDate": promise.isoformat() if promise else None,
    }


def assert_availability(got: dict, expected: dict) -> None:
    for key in ("onHand", "allocated", "incoming", "projected", "available"):
        if key in got:
            assert d(got[key]) == expected[key], (key, got, expected)
    assert got["canPromise"] == expected["canPromise"], (got, expected)
    assert got["promiseDate"] == expected["promiseDate"], (got, expected)


# --- BOM roll-up ---------------------------------------------------------------------


class Catalogue:
    """Every product and BOM line of the ERP, read once."""

    def __init__(self, systems) -> None:
        self.products = {p["sku"]: p for p in systems.get("erp", "/products")}
        manufactured = [sku for sku, p in self.products.items() if p["kind"] == "MANUFACTURED"]
        self.boms: dict[str, list[dict]] = defaultdict(list)
        for line in systems.get("erp", "/boms", skus=manufactured):
            self.boms[line["parent_sku"]].append(line)

    def depth(self, sku: str) -> int:
        """0 for a bought item, 1 + the deepest component otherwise."""
        lines = self.boms.get(sku, [])
        return 0 if not lines else 1 + max(self.depth(line["component_sku"]) for line in lines)

    def exact_cost(self, sku: str) -> Decimal:
        product = self.products[sku]
        lines = self.boms.get(sku, [])
        if not lines:
            return d(product["standard_cost"])
        return d(product["assembly_cost"]) + sum(
            (d(line["quantity"]) * self.exact_cost(line["component_sku"]) for line in lines), ZERO
        )

    def unit_cost(self, sku: str) -> Decimal:
        """Rolled up where a BOM exists, else standard; rounded to cents once, at the end."""
        return cents(self.exact_cost(sku))

    def of_depth(self, depth: int) -> list[str]:
        return [sku for sku in sorted(self.products) if self.depth(sku) == depth]


# --- credit and risk -----------------------------------------------------------------

OPEN_INVOICE = ("OPEN", "PARTIALLY_PAID")
OPEN_ORDER = ("CONFIRMED", "PROCESSING", "SHIPPED")


def credit(systems, party_code: str, basis: str = "gross") -> dict:
    """Credit used on one basis: gross open invoices + gross uninvoiced open orders (the
    default), or both net (an open invoice's net share = open x net / gross)."""
    invoices = systems.get("erp", "/invoices", party=party_code)
    orders = systems.get("erp", "/orders", party=party_code)
    party = systems.get("erp", "/parties", codes=party_code)[0]
    items = systems.get("erp", "/open_items", party=party_code)
    open_invoices = [i for i in invoices if i["status"] in OPEN_INVOICE]
    items_total = sum((d(x["amount"]) for x in items), ZERO)  # unapplied payments -, opening balances +
    open_balance = sum((d(i["amount"]) - d(i["paid_amount"]) for i in open_invoices), ZERO)
    if basis == "net":
        open_balance = sum((cents((d(i["amount"]) - d(i["paid_amount"])) * d(i["net_amount"]) / d(i["amount"]))
                            for i in open_invoices), ZERO)

    def not_invoiced(o: dict) -> Decimal:
        net = d(o["total"]) - d(o["invoiced_amount"])
        return net if basis == "net" else net + d(o["tax_amount"]) - d(o["invoiced_tax_amount"])

    uninvoiced = sum((max(ZERO, not_invoiced(o)) for o in orders if o["status"] in OPEN_ORDER), ZERO)
    past_due_items = [x for x in items if d(x["amount"]) > 0 and x["due_date"] and day(x["due_date"]) < TODAY]
    overdue = [i for i in open_invoices if d(i["amount"]) > d(i["paid_amount"]) and day(i["due_date"]) < TODAY]
    return {
        "limit": d(party["credit_limit"]),
        "used": open_balance + items_total + uninvoiced,
        "overdue": sum((d(i["amount"]) - d(i["paid_amount"]) for i in overdue), ZERO)
                   + sum((d(x["amount"]) for x in past_due_items), ZERO),
        "oldest_overdue_days": max([(TODAY - day(i["due_date"])).days for i in overdue]
                                   + [(TODAY - day(x["due_date"])).days for x in past_due_items], default=0),
    }


def line_tax(product: dict, amount: Decimal) -> Decimal:
    """A quote line's tax: its net amount x its product's tax rate, to the cent."""
    return cents(amount * d(product["tax_rate"]))


def risk(systems, customer: dict) -> str:
    """LOW / MEDIUM / HIGH from credit rating, overdue receivables and open complaints."""
    rating = customer["credit_rating"]
    points = 1 if not rating else 0 if rating in ("AAA", "AA", "A") else 1 if rating in ("BBB", "BB") else 2 if rating == "B" else 3
    if customer["refs"]["erp"]:
        figures = credit(systems, customer["refs"]["erp"])
        if figures["overdue"] > 0:
            half = (figures["limit"] or 0) / 2
            points += 2 if figures["oldest_overdue_days"] > 90 or (half and figures["overdue"] > half) else 1
    if customer["refs"]["desk"]:
        tickets = systems.get("desk", "/tickets", org=customer["refs"]["desk"])
        complaints = sum(1 for t in tickets if t["kind"] == "COMPLAINT" and t["status"] in ("OPEN", "IN_PROGRESS"))
        points += 2 if complaints >= 3 else 1 if complaints else 0
    return "HIGH" if points >= 4 else "MEDIUM" if points >= 2 else "LOW"


# --- kitting -------------------------------------------------------------------------


def kitting(catalogue: Catalogue, stock: dict[str, list[dict]], sku: str, quantity: int, warehouse=None, on=None) -> dict:
    per_kit: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in catalogue.boms[sku]:
        per_kit[line["component_sku"]] += d(line["quantity"])
    components = {}
    for component, per in per_kit.items():
        available = atp(stock.get(component, []), Decimal(1), warehouse, on)["available"]
        required = per * quantity
        components[component] = {
            "required": required,
            "available": available,
            "missing": max(ZERO, required - available),
            "kits": (available / per).to_integral_value(rounding=ROUND_FLOOR) if available > 0 else ZERO,
        }
    buildable = min(c["kits"] for c in components.values())
    return {
        "buildable": buildable,
        "complete": all(c["missing"] == 0 for c in components.values()),
        "components": components,
        "shortages": {sku: c for sku, c in components.items() if c["missing"] > 0},
    }


def freshest(systems, rows: list[dict]) -> list[dict]:
    """Stock rows with each receipt dated as the gateway dates it for a promise: an open purchase
    receipt by its SRM order line (the supplier's latest confirmation, else the date it was placed
    for), an open production receipt by its MES order's planned end; recomputed from their REST data."""
    numbers = sorted({x["document"].rsplit("/", 1)[0] for r in rows for x in r["receipts"]
                      if x["kind"] == "PURCHASE" and x.get("document")})
    ids = sorted({x["document"] for r in rows for x in r["receipts"] if x["kind"] == "PRODUCTION" and x.get("document")})
    lines, made = {}, {}
    for start in range(0, len(numbers), 400):
        for order in systems.get("srm", "/purchase_orders", numbers=numbers[start:start + 400]):
            for line in order["lines"]:
                lines[f"{order['number']}/{line['line_no']}"] = line["confirmed_date"] or line["promised_date"]
    for start in range(0, len(ids), 400):
        for order in systems.get("mes", "/production_orders", ids=ids[start:start + 400]):
            if order["status"] != "DONE":
                made[order["id"]] = order["planned_end"]
    dated = []
    for row in rows:
        receipts = []
        for x in row["receipts"]:
            fresh = None
            if x.get("document") and d(x["quantity"]) > 0:
                fresh = lines.get(x["document"]) if x["kind"] == "PURCHASE" else made.get(x["document"])
            receipts.append({**x, "expected_date": fresh or x["expected_date"]})
        dated.append({**row, "receipts": receipts})
    return dated
