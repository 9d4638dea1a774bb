"""What to seed into Tryton so it joins up with the demo CRM, CLM and DESK.

Read from the demo generator's output (the same files the demo systems serve):
- customers: the first `customers` CRM customers with an ERP ref, in the order of the
  customer list (newest activity first, then id), so the first page of the 360 page finds
  them; each becomes a Tryton party whose `code` is that ERP ref, with the CRM name and the
  demo ERP's credit limit;
- products: the first purchased SKUs (SKU-0001 ... used throughout the tests) and the
  smallest two-level BOM tree of the demo ERP, with names, units, list prices and costs;
- the first customer's CLM sales contract number (when it has one), put on its shipped
  Tryton sale as the reference, so the contract's fulfilment finds that order.

The seed script (run in Tryton's venv) gets this as JSON and builds the transactions on top.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

from demo.generate import ensure_data

WAREHOUSES = (
    {"code": "WH-EU", "name": "Central warehouse Frankfurt"},
    {"code": "WH-US", "name": "Distribution center Chicago"},
)


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _money(cents: int | None) -> str | None:
    return None if cents is None else str(Decimal(cents) / 100)


def _bom_closure(bom: dict[str, list[tuple[str, int]]], sku: str) -> list[str]:
    seen: list[str] = []

    def walk(item: str) -> None:
        if item in seen:
            return
        seen.append(item)
        for component, _ in bom.get(item, []):
            walk(component)

    walk(sku)
    return seen


def _depth(bom: dict[str, list[tuple[str, int]]], sku: str) -> int:
    return 0 if sku not in bom else 1 + max(_depth(bom, component) for component, _ in bom[sku])


def build_spec(data_dir: str | Path | None = None, *, customers: int = 50, purchased: int = 10) -> dict[str, Any]:
    directory = ensure_data(data_dir)
    with closing(_connect(directory / "crm.sqlite")) as crm:
        rows = crm.execute(
            "SELECT id, name, erp_ref, clm_ref FROM customers WHERE erp_ref IS NOT NULL "
            "ORDER BY last_activity_at DESC, id LIMIT ?",
            (customers,),
        ).fetchall()
    with closing(_connect(directory / "erp.sqlite")) as erp:
        limits = dict(erp.execute(
            f"SELECT code, credit_limit FROM parties WHERE code IN ({','.join('?' * len(rows))})",
            [row[2] for row in rows],
        ).fetchall())
        bom: dict[str, list[tuple[str, int]]] = {}
        for parent, component, quantity in erp.execute(
            "SELECT parent_sku, component_sku, quantity FROM bom_lines ORDER BY parent_sku, component_sku"
        ):
            bom.setdefault(parent, []).append((component, quantity))
        # The smallest tree two levels deep: a kit of a sub-assembly and bought parts.
        top = min((len(_bom_closure(bom, sku)), sku) for sku in bom if _depth(bom, sku) == 2)[1]
        bought = [sku for (sku,) in erp.execute(
            "SELECT sku FROM products WHERE kind = 'PURCHASED' ORDER BY sku LIMIT ?", (purchased,))]
        wanted = list(dict.fromkeys(bought + _bom_closure(bom, top)))
        products = {
            sku: {"code": sku, "name": name, "uom": uom, "list_price": _money(price), "cost": _money(cost),
                  "kind": kind}
            for sku, name, uom, price, cost, kind in erp.execute(
                f"SELECT sku, name, uom, list_price, standard_cost, kind FROM products "
                f"WHERE sku IN ({','.join('?' * len(wanted))})", wanted)
        }
    # The first customer's sales contract, when it has one, is the reference of its shipped order.
    contract = None
    if rows and rows[0][3]:
        with closing(_connect(directory / "clm.sqlite")) as clm:
            found = clm.execute(
                "SELECT number FROM contracts WHERE counterparty_id = ? AND kind = 'SALES' ORDER BY number LIMIT 1",
                (rows[0][3],),
            ).fetchone()
        contract = {"customer": rows[0][2], "number": found[0]} if found else None
    return {
        "currency": "EUR",
        "company": "Isthmus Demo Manufacturing GmbH",
        "warehouses": list(WAREHOUSES),
        "customers": [
            {"code": erp_ref, "name": name, "crm_id": crm_id, "credit_limit": _money(limits.get(erp_ref))}
            for crm_id, name, erp_ref, _ in rows
        ],
        "products": [products[sku] for sku in wanted],
        "boms": [
            {"parent": sku, "components": [[component, str(Decimal(quantity) / 100)] for component, quantity in bom[sku]]}
            for sku in wanted if sku in bom
        ],
        "contract": contract,
    }
