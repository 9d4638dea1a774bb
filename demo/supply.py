"""The supply side of the demo world: the SRM (procurement) and the MES (shop floor and quality).

Built after the rest of the world (`generate.World`) from a random stream of its own, so the
CRM, ERP, CLM and DESK records stay what they were, and tied to them:

- every open purchase receipt the ERP expects (`RC…`, kind PURCHASE) is the open part of one
  SRM purchase-order line; the ERP's receipt names it (`document`: `PO-2026-00012/2`) and keeps
  the date the line was promised, while the SRM also has the supplier's latest confirmation,
  later for about a quarter of the open lines;
- every open production receipt the ERP expects is one open MES production order (`document`:
  its id); its planned end is the ERP's date or, for about a fifth, later; a share of them is
  make-to-order for an open sales order of that SKU and warehouse;
- suppliers are ERP parties too (`S00001`…) and CLM counterparties (their purchase contracts
  name the supplier and its purchase orders);
- a year of purchase history per supplier (receipts with incoming inspection, invoices,
  payments, a few mismatches among them), budgets per category (some overrun), lots made for
  the manufactured goods shipped in the last half year with their final inspection (a few
  failed and held), and the ERP's stock movements (issues: shipments and production
  consumption; receipts: purchases and production), some stock with no issue for 6-18 months.

Money in cents, quantities in hundredths, as in `generate`.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import date, timedelta
from typing import TYPE_CHECKING

from demo import vocab

if TYPE_CHECKING:
    from demo.generate import World

# Purchased item family (vocab.PURCHASED_ITEMS) -> purchasing category, which budgets are kept by.
CATEGORIES = {
    "FASTENERS": ("Hex bolt", "Lock nut", "Washer", "Spring", "Cable gland"),
    "BEARINGS_SEALS": ("Ball bearing", "Roller bearing", "Shaft seal", "O-ring"),
    "RAW_MATERIALS": ("Steel sheet", "Aluminium profile", "Cast iron blank", "Paint RAL 7035", "Plastic housing"),
    "DRIVES": ("Gear wheel", "Drive belt", "Servo motor", "Induction motor", "Coupling", "Linear guide",
               "Frequency inverter"),
    "ELECTRICAL": ("Copper cable", "Power supply", "Terminal block", "Relay", "Fan", "Limit switch"),
    "ELECTRONICS": ("PLC module", "Circuit board", "Touch panel", "Proximity sensor", "Pressure sensor"),
    "FLUID_POWER": ("Solenoid valve", "Ball valve", "Pneumatic cylinder", "Hose", "Filter cartridge",
                    "Hydraulic oil"),
}
CATEGORY_OF = {family: category for category, families in CATEGORIES.items() for family in families}
DEFECTS = ("DIM-OUT-OF-TOL", "SURFACE-SCRATCH", "CORROSION", "WRONG-PART", "DAMAGED-PACKAGING", "MISSING-CERT",
           "ELECTRICAL-FAIL", "LEAK")
OPERATIONS = {1: ("Cutting", "Machining", "Assembly", "Testing"),
              2: ("Machining", "Welding", "Assembly", "Wiring", "Testing"),
              3: ("Frame welding", "Painting", "Mechanical assembly", "Electrical assembly", "Commissioning",
                  "Final test")}
WORK_CENTERS = {"Cutting": "WC-SAW", "Machining": "WC-CNC", "Assembly": "WC-ASM", "Testing": "WC-QA",
                "Welding": "WC-WLD", "Wiring": "WC-ELE", "Frame welding": "WC-WLD", "Painting": "WC-PNT",
                "Mechanical assembly": "WC-ASM", "Electrical assembly": "WC-ELE", "Commissioning": "WC-COM",
                "Final test": "WC-QA"}
LATE_CONFIRMATION_SHARE = 0.25
LATE_PRODUCTION_SHARE = 0.2
MAKE_TO_ORDER_SHARE = 0.6
OPEN_ORDER = ("CONFIRMED", "PROCESSING")

SCHEMA = {
    "srm": {
        "suppliers": "code TEXT PRIMARY KEY, name TEXT, tax_id TEXT, clm_ref TEXT, currency TEXT, payment_terms TEXT",
        "supplier_items": "supplier_code TEXT, sku TEXT, category TEXT, unit_price INTEGER, lead_time_days INTEGER, "
                          "preferred INTEGER, PRIMARY KEY (supplier_code, sku)",
        "requisitions": "id TEXT PRIMARY KEY, sku TEXT, warehouse TEXT, quantity INTEGER, needed_by TEXT, "
                        "status TEXT, po_number TEXT",
        "purchase_orders": "number TEXT PRIMARY KEY, supplier_code TEXT, contract_number TEXT, status TEXT, "
                           "ordered_at TEXT, currency TEXT",
        "po_lines": "po_number TEXT, line_no INTEGER, sku TEXT, category TEXT, warehouse TEXT, quantity INTEGER, "
                    "unit_price INTEGER, promised_date TEXT, confirmed_date TEXT, received_quantity INTEGER, "
                    "PRIMARY KEY (po_number, line_no)",
        "receipts": "id TEXT PRIMARY KEY, po_number TEXT, line_no INTEGER, supplier_code TEXT, sku TEXT, "
                    "received_at TEXT, quantity INTEGER, accepted_quantity INTEGER, rejected_quantity INTEGER, "
                    "defect_codes TEXT",
        "invoices": "id TEXT PRIMARY KEY, number TEXT, supplier_code TEXT, po_number TEXT, issued_at TEXT, "
                    "due_date TEXT, amount INTEGER, status TEXT, currency TEXT",
        "payments": "id TEXT PRIMARY KEY, invoice_id TEXT, paid_at TEXT, amount INTEGER",
        "budgets": "category TEXT, year INTEGER, amount INTEGER, committed INTEGER, spent INTEGER, "
                   "PRIMARY KEY (category, year)",
    },
    "mes": {
        "production_orders": "id TEXT PRIMARY KEY, sku TEXT, warehouse TEXT, quantity INTEGER, status TEXT, "
                             "sales_order_id TEXT, due_date TEXT, planned_start TEXT, planned_end TEXT, "
                             "finished_at TEXT",
        "operations": "production_order_id TEXT, seq INTEGER, name TEXT, work_center TEXT, status TEXT, "
                      "progress INTEGER, PRIMARY KEY (production_order_id, seq)",
        "lots": "id TEXT PRIMARY KEY, sku TEXT, quantity INTEGER, production_order_id TEXT, receipt_id TEXT, "
                "produced_at TEXT, shipment_id TEXT, sales_order_id TEXT",
        "quality_records": "id TEXT PRIMARY KEY, kind TEXT, lot_id TEXT, production_order_id TEXT, sku TEXT, "
                           "sales_order_id TEXT, inspected_at TEXT, result TEXT, defects TEXT, disposition TEXT",
    },
}
INDEXES = {
    "srm": [("items_sku", "supplier_items(sku)"), ("po_supplier", "purchase_orders(supplier_code)"),
            ("po_contract", "purchase_orders(contract_number)"), ("lines_sku", "po_lines(sku, po_number)"),
            ("receipts_po", "receipts(po_number)"), ("receipts_supplier", "receipts(supplier_code)"),
            ("invoices_po", "invoices(po_number)"), ("invoices_supplier", "invoices(supplier_code)"),
            ("payments_invoice", "payments(invoice_id)"), ("requisitions_sku", "requisitions(sku)")],
    "mes": [("po_sales_order", "production_orders(sales_order_id)"), ("po_sku", "production_orders(sku)"),
            ("operations_order", "operations(production_order_id, seq)"), ("lots_shipment", "lots(shipment_id)"),
            ("lots_order", "lots(sales_order_id)"), ("quality_order", "quality_records(sales_order_id)"),
            ("quality_lot", "quality_records(lot_id)")],
}
ERP_SCHEMA = {
    "stock_moves": "id TEXT PRIMARY KEY, sku TEXT, warehouse TEXT, date TEXT, kind TEXT, quantity INTEGER, "
                   "document TEXT",
}
ERP_INDEXES = [("moves_stock", "stock_moves(sku, warehouse, date)")]


def category_of(sku: str) -> str:
    """A purchased SKU's category: SKU-0001..0380 cycle through vocab.PURCHASED_ITEMS."""
    family = vocab.PURCHASED_ITEMS[(int(sku[4:]) - 1) % len(vocab.PURCHASED_ITEMS)][0]
    return CATEGORY_OF[family]


class Supply:
    """Adds the SRM and MES rows to a built world and ties the ERP and CLM rows to them."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.rng = random.Random(f"{world.seed}-supply")
        self.anchor = world.anchor
        self.rows = world.rows
        self.purchased = [p for p in world.products if not p.level]
        self.by_sku = {p.sku: p for p in world.products}

    def day(self, offset: int) -> date:
        return self.anchor + timedelta(days=offset)

    def build(self) -> None:
        self.build_suppliers()
        self.build_purchase_orders()
        self.build_production()
        self.build_budgets()
        self.build_moves()
        self.write_contracts()

    # SRM: suppliers and what they sell ---------------------------------------------------

    def build_suppliers(self) -> None:
        r = self.rng
        self.suppliers = []
        for n, supplier in enumerate(self.world.suppliers, 1):
            supplier.code = f"S{n:05d}"
            supplier.on_time = r.uniform(0.55, 0.98)  # its habits, which its ratings will show
            supplier.reject = r.uniform(0.0, 0.12)
            supplier.terms = r.choice(["NET30", "NET45", "NET60"])
            self.suppliers.append(supplier)
        self.rows["srm"]["suppliers"] = [(s.code, s.name, s.tax_id, s.clm, "EUR", s.terms) for s in self.suppliers]
        self.rows["erp"]["parties"] += [(s.code, s.name, None, "EUR", s.terms) for s in self.suppliers]
        items = []
        self.offers: dict[str, list[tuple]] = {}  # sku -> [(supplier, unit price, lead time)], preferred first
        for product in self.purchased:
            chosen = r.sample(self.suppliers, r.randint(1, 3))
            offers = [(s, max(1, round(product.cost * r.uniform(0.85, 1.1))), r.randint(5, 45)) for s in chosen]
            self.offers[product.sku] = offers
            for k, (s, price, lead) in enumerate(offers):
                items.append((s.code, product.sku, category_of(product.sku), price, lead, int(k == 0)))
        self.rows["srm"]["supplier_items"] = items

    # SRM: purchase orders, open (the ERP's incoming receipts) and past (history) -----------

    def build_purchase_orders(self) -> None:
        r = self.rng
        orders = []  # (ordered, supplier, [line dicts], open?)
        open_receipts = [row for row in self.rows["erp"]["receipts"] if row[3] == "PURCHASE" and row[5] > 0]
        grouped: dict[tuple, list[tuple]] = defaultdict(list)
        for row in open_receipts:
            supplier, _, _ = self.offers[row[1]][0]
            grouped[(supplier.code, row[2])].append(row)
        supplier_of = {s.code: s for s in self.suppliers}
        for (code, _), rows in sorted(grouped.items()):
            rows.sort(key=lambda row: (row[4], row[0]))
            while rows:
                take = [rows.pop(0)]
                while rows and len(take) < 4 and r.random() < 0.5:
                    take.append(rows.pop(0))
                lines = []
                for receipt_id, sku, warehouse, _, expected, quantity in take:
                    promised = date.fromisoformat(expected)
                    _, price, lead = next(o for o in self.offers[sku] if o[0].code == code)
                    roll = r.random()
                    confirmed = (promised + timedelta(days=r.randint(3, 30)) if roll < LATE_CONFIRMATION_SHARE
                                 else promised if roll < 0.8 else None)
                    received = (quantity * r.randint(1, 3) // 4) // 100 * 100 if r.random() < 0.2 else 0
                    lines.append({"sku": sku, "warehouse": warehouse, "quantity": quantity + received, "price": price,
                                  "promised": promised, "confirmed": confirmed, "received": received,
                                  "receipt": receipt_id, "lead": lead})
                ordered = min(line["promised"] for line in lines) - timedelta(days=max(line["lead"] for line in lines))
                orders.append((min(ordered, self.day(-1)), supplier_of[code], lines, True))
        for supplier in self.suppliers:  # a year of history
            sells = [sku for sku, offers in self.offers.items() if any(o[0] is supplier for o in offers)]
            for _ in range(r.randint(12, 30)):
                ordered = self.day(-r.randint(50, 365))
                lines = []
                for sku in r.sample(sells, min(len(sells), r.randint(1, 4))):
                    _, price, lead = next(o for o in self.offers[sku] if o[0] is supplier)
                    quantity = 100 * r.randint(5, 60) * (50 if self.by_sku[sku].cost < 500 else 1)
                    promised = ordered + timedelta(days=lead)
                    lines.append({"sku": sku, "warehouse": r.choice(vocab.WAREHOUSES)[0], "quantity": quantity,
                                  "price": price, "promised": promised, "confirmed": promised, "received": quantity,
                                  "receipt": None, "lead": lead})
                orders.append((ordered, supplier, lines, False))
        orders.sort(key=lambda o: (o[0], o[1].code))
        self.write_purchase_orders(orders)

    def write_purchase_orders(self, orders: list[tuple]) -> None:
        r = self.rng
        srm = self.rows["srm"]
        srm["purchase_orders"], srm["po_lines"], receipts, invoices, payments = [], [], [], [], []
        documents = {}  # ERP receipt id -> PO line
        self.po_numbers: dict = defaultdict(list)  # supplier -> [(number, ordered)]
        self.history_receipts = []  # (date, sku, warehouse, accepted quantity, document)
        self.spent: dict[str, int] = defaultdict(int)
        self.committed: dict[str, int] = defaultdict(int)
        for n, (ordered, supplier, lines, is_open) in enumerate(orders, 1):
            number = f"PO-{ordered.year}-{n:05d}"
            contract = self.contract_for(supplier, ordered)
            received_any = any(line["received"] for line in lines)
            status = ("PARTIALLY_RECEIVED" if received_any else "OPEN") if is_open else "RECEIVED"
            srm["purchase_orders"].append((number, supplier.code, contract, status, ordered.isoformat(), "EUR"))
            self.po_numbers[supplier].append(number)
            po_value, last_receipt = 0, None
            for line_no, line in enumerate(lines, 1):
                sku, category = line["sku"], category_of(line["sku"])
                srm["po_lines"].append((number, line_no, sku, category, line["warehouse"], line["quantity"],
                                        line["price"], line["promised"].isoformat(),
                                        line["confirmed"] and line["confirmed"].isoformat(), line["received"]))
                if line["receipt"]:
                    documents[line["receipt"]] = f"{number}/{line_no}"
                    self.committed[category] += (line["quantity"] - line["received"]) * line["price"] // 100
                if not line["received"]:
                    continue
                late = 0 if r.random() < supplier.on_time else r.randint(1, 21)
                when = min(line["promised"] + timedelta(days=late - r.randint(0, 3) * (not late)), self.day(-1))
                rejected = 0
                codes: list[str] = []
                if r.random() < supplier.reject * 2:
                    rejected = max(100, line["received"] * r.randint(2, 30) // 100 // 100 * 100)
                    rejected = min(rejected, line["received"])
                    codes = r.sample(DEFECTS, r.randint(1, 2))
                accepted = line["received"] - rejected
                receipts.append((when, number, line_no, supplier.code, sku, line["received"], accepted, rejected,
                                 json.dumps(codes)))
                self.history_receipts.append((when, sku, line["warehouse"], accepted, number))
                value = accepted * line["price"] // 100
                po_value += value
                if when.year == self.anchor.year:
                    self.spent[category] += value
                last_receipt = max(last_receipt or when, when)
            if last_receipt and not is_open:
                invoices.append(self.invoice(number, supplier, po_value, lines, last_receipt, payments))
        receipts.sort(key=lambda x: (x[0], x[1], x[2]))
        srm["receipts"] = [(f"GR{n:05d}", po, line_no, code, sku, when.isoformat(), q, a, j, codes)
                           for n, (when, po, line_no, code, sku, q, a, j, codes) in enumerate(receipts, 1)]
        self.receipt_rows = srm["receipts"]
        invoices.sort(key=lambda x: (x[0], x[1]))
        srm["invoices"], srm["payments"] = [], []
        paid_rows = []
        for n, (issued, number, supplier, amount, due, paid) in enumerate(invoices, 1):
            invoice_id = f"SI{n:05d}"
            total_paid = sum(cents for _, cents in paid)
            status = "PAID" if total_paid >= amount else "PARTIALLY_PAID" if total_paid else "OPEN"
            srm["invoices"].append((invoice_id, f"SINV-{issued.year}-{n:05d}", supplier.code, number,
                                    issued.isoformat(), due.isoformat(), amount, status, "EUR"))
            paid_rows += [(when, invoice_id, cents) for when, cents in paid]
        paid_rows.sort()
        srm["payments"] = [(f"SP{n:05d}", invoice_id, when.isoformat(), cents)
                           for n, (when, invoice_id, cents) in enumerate(paid_rows, 1)]
        self.rows["erp"]["receipts"] = [(*row, documents.get(row[0])) for row in self.rows["erp"]["receipts"]]
        srm["requisitions"] = self.requisitions()

    def invoice(self, number: str, supplier, received_value: int, lines: list[dict], last: date,
                payments: list) -> tuple:
        """One invoice per received order; a few bill the rejected quantity or another price, or are paid wrong."""
        r = self.rng
        amount, roll = received_value, r.random()
        if roll < 0.05:  # billed what was delivered, rejected part included
            amount = sum(line["received"] * line["price"] // 100 for line in lines)
        elif roll < 0.08:  # a price other than the order's
            amount = round(received_value * r.uniform(1.02, 1.12))
        issued = min(last + timedelta(days=r.randint(0, 5)), self.day(-1))
        due = issued + timedelta(days=int(supplier.terms[3:]))
        paid: list[tuple[date, int]] = []
        roll = r.random()
        if due <= self.anchor or roll < 0.3:
            when = min(due + timedelta(days=r.randint(-5, 10)), self.day(-1))
            if roll < 0.06:
                paid = []  # overdue, unpaid
            elif roll < 0.09:
                paid = [(when, round(amount * r.uniform(0.5, 0.95)))]  # short payment
            else:
                paid = [(max(when, issued), amount)]
        return (issued, number, supplier, amount, due, paid)

    def contract_for(self, supplier, ordered: date) -> str | None:
        """The supplier's purchase contract in force on the order day, for most orders placed under one."""
        live = [c for c in supplier.contracts if c.status in ("ACTIVE", "COMPLETED", "TERMINATED")
                and c.start <= ordered <= c.end]
        if live and self.rng.random() < 0.75:
            return live[0].number
        return None

    def requisitions(self) -> list[tuple]:
        """Demand the planners raised: ordered ones name their PO, a few are still open."""
        r = self.rng
        rows = []
        for number, line_no, sku, _, warehouse, quantity, _, promised, _, _ in self.rows["srm"]["po_lines"]:
            if line_no == 1 and r.random() < 0.5:
                rows.append((sku, warehouse, quantity, promised, "ORDERED", number))
        for product in r.sample(self.purchased, 25):
            rows.append((product.sku, r.choice(vocab.WAREHOUSES)[0], 100 * r.randint(10, 200),
                         self.day(r.randint(10, 60)).isoformat(), "OPEN", None))
        return [(f"RQ{n:05d}", *row) for n, row in enumerate(rows, 1)]

    # MES: production orders, lots, quality ------------------------------------------------

    def build_production(self) -> None:
        r = self.rng
        open_orders = [o for o in self.world.orders if o.status in OPEN_ORDER]
        needing: dict[tuple[str, str], list] = defaultdict(list)
        for order in open_orders:
            for line in order.lines:
                if line.product.level and line.quantity > line.shipped:
                    needing[(line.product.sku, order.warehouse)].append(order)
        mos = []  # (planned_end, dict)
        for receipt_id, sku, warehouse, kind, expected, quantity in (row[:6] for row in self.rows["erp"]["receipts"]):
            if kind != "PRODUCTION" or quantity <= 0:
                continue
            due = date.fromisoformat(expected)
            end = due + timedelta(days=r.randint(2, 20)) if r.random() < LATE_PRODUCTION_SHARE else due
            start = end - timedelta(days=r.randint(2, 10))
            candidates = sorted(needing.get((sku, warehouse), []), key=lambda o: (o.promised, o.id))
            sales_order = candidates[0].id if candidates and r.random() < MAKE_TO_ORDER_SHARE else None
            mos.append((end, {"sku": sku, "warehouse": warehouse, "quantity": quantity, "due": due, "start": start,
                              "end": end, "sales_order": sales_order, "receipt": receipt_id, "finished": None}))
        shipments = {sid: (when[:10], order_id) for sid, order_id, when, _ in self.rows["erp"]["shipments"]}
        for shipment_id, sku, quantity in self.rows["erp"]["shipment_lines"]:
            shipped, order_id = shipments[shipment_id]
            shipped_day = date.fromisoformat(shipped)
            if not self.by_sku[sku].level or shipped_day < self.day(-180):
                continue
            end = shipped_day - timedelta(days=r.randint(1, 10))
            mos.append((end, {"sku": sku, "warehouse": None, "quantity": quantity, "due": end,
                              "start": end - timedelta(days=r.randint(2, 10)), "end": end,
                              "sales_order": order_id if r.random() < 0.5 else None, "receipt": None,
                              "finished": end, "shipment": shipment_id, "shipped_order": order_id}))
        mos.sort(key=lambda m: (m[0], m[1]["sku"], m[1]["receipt"] or ""))
        mes = self.rows["mes"]
        mes["production_orders"], mes["operations"], lots, quality = [], [], [], []
        documents = {}
        warehouse_of = {o.id: o.warehouse for o in self.world.orders}
        self.done_production = []  # (date, sku, warehouse, quantity, id)
        for n, (_, mo) in enumerate(mos, 1):
            mo_id = f"MO{n:05d}"
            done = mo["finished"] is not None
            warehouse = mo["warehouse"] or warehouse_of[mo["shipped_order"]]
            if done:
                status = "DONE"
            elif mo["start"] <= self.anchor:
                status = "IN_PROGRESS"
            else:
                status = r.choice(["PLANNED", "RELEASED"])
            mes["production_orders"].append((mo_id, mo["sku"], warehouse, mo["quantity"], status, mo["sales_order"],
                                             mo["due"].isoformat(), mo["start"].isoformat(), mo["end"].isoformat(),
                                             mo["finished"] and mo["finished"].isoformat()))
            if mo["receipt"]:
                documents[mo["receipt"]] = mo_id
            steps = OPERATIONS[self.by_sku[mo["sku"]].level]
            if done:
                running = len(steps)
            elif status == "IN_PROGRESS":
                span = max(1, (mo["end"] - mo["start"]).days)
                running = min(len(steps) - 1, len(steps) * (self.anchor - mo["start"]).days // span)
            else:
                running = -1
            for seq, name in enumerate(steps, 1):
                if seq - 1 < running:
                    state, progress = "DONE", 100
                elif seq - 1 == running:
                    state, progress = "RUNNING", r.randint(5, 95)
                else:
                    state, progress = "PENDING", 0
                mes["operations"].append((mo_id, seq * 10, name, WORK_CENTERS[name], state, progress))
            if done:
                self.done_production.append((mo["end"], mo["sku"], warehouse, mo["quantity"], mo_id))
                lot = f"L{len(lots) + 1:06d}"
                lots.append((lot, mo["sku"], mo["quantity"], mo_id, None, mo["end"].isoformat(), mo["shipment"],
                             mo["shipped_order"]))
                result = self.pick({"PASS": 93, "CONDITIONAL": 4, "FAIL": 3})
                quality.append(self.record("FINAL", lot, mo_id, mo["sku"], mo["shipped_order"], mo["end"], result))
            elif status == "IN_PROGRESS":
                lot = f"L{len(lots) + 1:06d}"
                lots.append((lot, mo["sku"], mo["quantity"], mo_id, None, None, None, mo["sales_order"]))
                if r.random() < 0.5:
                    result = self.pick({"PASS": 85, "CONDITIONAL": 5, "FAIL": 10})
                    quality.append(self.record("IN_PROCESS", lot, mo_id, mo["sku"], mo["sales_order"],
                                               min(self.day(-1), mo["start"] + timedelta(days=1)), result))
        for receipt in self.receipt_rows:  # incoming inspection that found something
            receipt_id, _, _, _, sku, when, quantity, accepted, rejected, _ = receipt
            if rejected:
                lot = f"L{len(lots) + 1:06d}"
                lots.append((lot, sku, quantity, None, receipt_id, when, None, None))
                quality.append(self.record("INCOMING", lot, None, sku, None, date.fromisoformat(when),
                                           "FAIL" if not accepted else "CONDITIONAL", codes=json.loads(receipt[9])))
        mes["lots"] = lots
        quality.sort(key=lambda q: (q[6], q[2]))
        mes["quality_records"] = [(f"QR{n:05d}", *q[1:]) for n, q in enumerate(quality, 1)]
        self.rows["erp"]["receipts"] = [(*row[:6], row[6] or documents.get(row[0])) for row in self.rows["erp"]["receipts"]]

    def pick(self, weights: dict[str, int]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def record(self, kind: str, lot: str, mo_id: str | None, sku: str, sales_order: str | None, when: date,
               result: str, codes: list[str] | None = None) -> tuple:
        r = self.rng
        defects = codes if codes is not None else ([] if result == "PASS" else r.sample(DEFECTS, r.randint(1, 2)))
        if result == "PASS":
            disposition = "ACCEPT"
        elif result == "CONDITIONAL":
            disposition = "USE_AS_IS"
        elif kind == "INCOMING":
            disposition = "RETURN_TO_SUPPLIER"
        else:
            disposition = self.pick({"HOLD": 60, "REWORK": 30, "SCRAP": 10})
        return (None, kind, lot, mo_id, sku, sales_order, when.isoformat(), result, json.dumps(defects), disposition)

    # SRM: budgets ---------------------------------------------------------------------------

    def build_budgets(self) -> None:
        """This year's budget per category: most with room left, some overrun by what is committed and spent."""
        r = self.rng
        rows = []
        overrun = set(r.sample(sorted(CATEGORIES), 2))
        for category in CATEGORIES:
            committed, spent = self.committed[category], self.spent[category]
            factor = r.uniform(0.75, 0.95) if category in overrun else r.uniform(1.05, 1.8)
            amount = max(100_000, round((committed + spent) * factor / 100_000) * 100_000)
            rows.append((category, self.anchor.year, amount, committed, spent))
        self.rows["srm"]["budgets"] = rows

    # ERP: stock movement history ------------------------------------------------------------

    def build_moves(self) -> None:
        """Two years of issues and receipts per SKU and warehouse; a share of stock last issued 6-18 months ago."""
        r = self.rng
        moves = []
        shipments = {sid: (when[:10], warehouse) for sid, _, when, warehouse in self.rows["erp"]["shipments"]}
        since = self.day(-730)
        for shipment_id, sku, quantity in self.rows["erp"]["shipment_lines"]:
            when, warehouse = shipments[shipment_id]
            if date.fromisoformat(when) >= since:
                moves.append((when, sku, warehouse, "ISSUE", -quantity, shipment_id))
        for when, sku, warehouse, quantity, mo_id in self.done_production:
            moves.append((when.isoformat(), sku, warehouse, "RECEIPT", quantity, mo_id))
            for component, per_unit in self.by_sku[sku].bom:
                consumed = quantity * per_unit // 100
                start = when - timedelta(days=r.randint(1, 5))
                moves.append((start.isoformat(), component.sku, warehouse, "ISSUE", -consumed, mo_id))
        for when, sku, warehouse, accepted, number in self.history_receipts:
            if accepted:
                moves.append((when.isoformat(), sku, warehouse, "RECEIPT", accepted, number))
        last_issue: dict[tuple[str, str], str] = {}
        for when, sku, warehouse, kind, _, _ in moves:
            if kind == "ISSUE":
                last_issue[(sku, warehouse)] = max(when, last_issue.get((sku, warehouse), ""))
        quiet = self.day(-540).isoformat()
        for sku, warehouse, on_hand in self.rows["erp"]["stock"]:
            if on_hand and last_issue.get((sku, warehouse), "") < quiet and r.random() < 0.3:
                when = self.day(-r.randint(180, 540)).isoformat()
                moves.append((when, sku, warehouse, "ISSUE", -100 * r.randint(1, 10), "ADJ"))
        moves.sort(key=lambda m: (m[0], m[1], m[2], m[3]))
        self.rows["erp"]["stock_moves"] = [(f"MV{n:06d}", sku, warehouse, when, kind, quantity, document)
                                           for n, (when, sku, warehouse, kind, quantity, document)
                                           in enumerate(moves, 1)]

    # CLM: purchase contracts name their supplier and orders ----------------------------------

    def write_contracts(self) -> None:
        by_number: dict[str, list[str]] = defaultdict(list)
        for number, _, contract, *_ in self.rows["srm"]["purchase_orders"]:
            if contract:
                by_number[contract].append(number)
        supplier_of = {c.number: c.owner.code for s in self.suppliers for c in s.contracts}
        self.rows["clm"]["contracts"] = [(*row, supplier_of.get(row[1]), json.dumps(by_number.get(row[1], [])))
                                         for row in self.rows["clm"]["contracts"]]
