"""One deterministic world for the four demo systems.

Everything is drawn from a single `random.Random(seed)` stream, with dates
relative to an anchor day (today by default), so that the CRM, ERP, CLM and
DESK files agree with each other: every ref resolves, order amounts add up,
invoices follow shipments, payments follow invoices. The world is also
seeded with the situations a customer-360 has to surface (overdue invoices,
credit-limit breaches, late milestones, SLA breaches, stock shortages).

Money is stored as integer cents and quantities as integer hundredths; the
apps format both as two-decimal strings. Tax rates are stored in basis points.

Taxes: every product has a tax category (TAX_RATES); an order line's tax is its net
amount x its product's rate, rounded to the cent per line; an order's and an invoice's
tax are the sums over their lines, and an invoice's `amount` is gross (net + tax), so
receivables and payments are gross while order totals are net.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import math
import os
import random
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from demo import supply, vocab

SEED = 360
VERSION = 4  # 2: taxes, planned production consumption; 3: open items; 4: SRM, MES, stock moves
# Any edit of the generator or its word pools makes existing files stale.
CODE = hashlib.sha256(b"".join(Path(path).read_bytes() for path in (__file__, vocab.__file__, supply.__file__))).hexdigest()[:12]
SYSTEMS = ("crm", "erp", "clm", "desk", "srm", "mes")
REPO_ROOT = Path(__file__).resolve().parent.parent

CUSTOMERS = 2400
MISSING_SHARE = {"erp": 0.06, "clm": 0.07, "desk": 0.06}
TIERS = {"STRATEGIC": 3, "KEY": 12, "STANDARD": 45, "SMALL": 40}
RATINGS = {"AAA": 3, "AA": 8, "A": 18, "BBB": 28, "BB": 20, "B": 12, "CCC": 6, "CC": 3, "C": 2}
REGION_WEIGHTS = {"EMEA": 45, "NA": 25, "APAC": 22, "LATAM": 8}
TEAM_SIZES = {"EMEA North": 8, "EMEA South": 7, "North America": 8, "APAC North": 6,
              "APAC South": 5, "LATAM": 6}
REGION_WAREHOUSE = {"EMEA": "WH-EU", "NA": "WH-US", "APAC": "WH-SG", "LATAM": "WH-BR"}
SLA_HOURS = {"P1": 8, "P2": 24, "P3": 72, "P4": 168}
OPEN_ORDER = ("CONFIRMED", "PROCESSING")
# Tax category of a product -> rate in basis points: bulk materials sold by weight, length or
# volume carry a reduced rate, everything else (parts, assemblies, machines) the standard one.
TAX_RATES = {"STANDARD": 1900, "REDUCED": 700}
BULK_UOMS = ("KG", "M", "L")
# Share of planned production receipts whose component consumption is already planned too.
PLANNED_CONSUMPTION_SHARE = 0.4


# --- where the files live, and when to (re)generate them ----------------------------

def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Explicit argument, else $ISTHMUS_DEMO_DATA, else `.demo-data/` at the repo root."""
    chosen = data_dir or os.environ.get("ISTHMUS_DEMO_DATA") or REPO_ROOT / ".demo-data"
    return Path(chosen).resolve()


def ensure_data(data_dir=None, anchor: date | None = None, seed: int = SEED, force: bool = False) -> Path:
    """Generate the four files unless current ones exist (or `force`); safe for concurrent starters."""
    directory = resolve_data_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    anchor = anchor or date.today()
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if force or not is_current(directory, anchor, seed):
            generate(directory, anchor, seed)
    return directory


def read_meta(path: Path) -> dict[str, str]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return dict(con.execute("SELECT key, value FROM meta"))
    finally:
        con.close()


def is_current(directory: Path, anchor: date, seed: int) -> bool:
    wanted = {"seed": str(seed), "version": str(VERSION), "code": CODE, "anchor": anchor.isoformat()}
    for system in SYSTEMS:
        path = directory / f"{system}.sqlite"
        try:
            meta = read_meta(path)
        except sqlite3.Error:
            return False
        if any(meta.get(k) != v for k, v in wanted.items()):
            return False
    return True


def generate(directory: Path, anchor: date, seed: int = SEED) -> None:
    """Build the world and write each system's file atomically (temp file, then rename)."""
    rows = World(anchor, seed).build()
    meta = [("seed", str(seed)), ("version", str(VERSION)), ("code", CODE), ("anchor", anchor.isoformat())]
    for system in SYSTEMS:
        write_db(directory / f"{system}.sqlite", SCHEMA[system], INDEXES[system], rows[system], meta)


def write_db(path: Path, schema, indexes, tables, meta) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    try:
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        for table, columns in schema.items():
            con.execute(f"CREATE TABLE {table} ({columns})")
        with con:
            con.executemany("INSERT INTO meta VALUES (?, ?)", meta)
            for table, data in tables.items():
                marks = ", ".join("?" * len(data[0]))
                con.executemany(f"INSERT INTO {table} VALUES ({marks})", data)
        for name, target in indexes:
            con.execute(f"CREATE INDEX {name} ON {target}")
        con.execute("ANALYZE")
        con.commit()
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    os.replace(tmp, path)


# --- storage layout --------------------------------------------------------------------

SCHEMA = {
    "crm": {
        "reps": "id TEXT PRIMARY KEY, name TEXT, email TEXT, team TEXT",
        "customers": "id TEXT PRIMARY KEY, name TEXT, name_local TEXT, tax_id TEXT, tier TEXT, "
                     "industry TEXT, region TEXT, credit_rating TEXT, owner_id TEXT, team TEXT, "
                     "created_at TEXT, last_activity_at TEXT, erp_ref TEXT, clm_ref TEXT, "
                     "desk_ref TEXT, search_text TEXT",
        "contacts": "id TEXT PRIMARY KEY, customer_id TEXT, name TEXT, title TEXT, email TEXT, phone TEXT",
        "opportunities": "id TEXT PRIMARY KEY, customer_id TEXT, name TEXT, stage TEXT, amount INTEGER, "
                         "close_date TEXT, probability REAL",
        "activities": "id TEXT PRIMARY KEY, customer_id TEXT, kind TEXT, subject TEXT, at TEXT, by_rep_id TEXT",
    },
    "erp": {
        "parties": "code TEXT PRIMARY KEY, name TEXT, credit_limit INTEGER, currency TEXT, payment_terms TEXT",
        "products": "sku TEXT PRIMARY KEY, name TEXT, name_local TEXT, uom TEXT, list_price INTEGER, "
                    "standard_cost INTEGER, assembly_cost INTEGER, currency TEXT, kind TEXT, "
                    "tax_category TEXT, tax_rate INTEGER",
        "bom_lines": "parent_sku TEXT, component_sku TEXT, quantity INTEGER, "
                     "PRIMARY KEY (parent_sku, component_sku)",
        "warehouses": "id TEXT PRIMARY KEY, name TEXT, region TEXT",
        "stock": "sku TEXT, warehouse TEXT, on_hand INTEGER, PRIMARY KEY (sku, warehouse)",
        "receipts": "id TEXT PRIMARY KEY, sku TEXT, warehouse TEXT, kind TEXT, expected_date TEXT, quantity INTEGER, "
                    "document TEXT",
        "orders": "id TEXT PRIMARY KEY, number TEXT, party_code TEXT, contract_number TEXT, status TEXT, "
                  "ordered_at TEXT, promised_date TEXT, warehouse TEXT, currency TEXT, total INTEGER, "
                  "shipped_amount INTEGER, invoiced_amount INTEGER, paid_amount INTEGER, tax_amount INTEGER, "
                  "invoiced_tax_amount INTEGER, paid_tax_amount INTEGER",
        "order_lines": "order_id TEXT, line_no INTEGER, sku TEXT, quantity INTEGER, shipped_quantity INTEGER, "
                       "unit_price INTEGER, amount INTEGER, unit_cost INTEGER, tax_rate INTEGER, tax_amount INTEGER, "
                       "PRIMARY KEY (order_id, line_no)",
        "shipments": "id TEXT PRIMARY KEY, order_id TEXT, shipped_at TEXT, warehouse TEXT",
        "shipment_lines": "shipment_id TEXT, sku TEXT, quantity INTEGER, PRIMARY KEY (shipment_id, sku)",
        "invoices": "id TEXT PRIMARY KEY, number TEXT, party_code TEXT, order_id TEXT, issued_at TEXT, "
                    "due_date TEXT, amount INTEGER, paid_amount INTEGER, status TEXT, currency TEXT, "
                    "net_amount INTEGER, tax_amount INTEGER",
        "payments": "id TEXT PRIMARY KEY, invoice_id TEXT, paid_at TEXT, amount INTEGER",
        "open_items": "id TEXT PRIMARY KEY, party_code TEXT, date TEXT, due_date TEXT, amount INTEGER, "
                      "description TEXT, currency TEXT",
    },
    "clm": {
        "counterparties": "id TEXT PRIMARY KEY, name TEXT, tax_id TEXT",
        "contracts": "id TEXT PRIMARY KEY, number TEXT UNIQUE, title TEXT, kind TEXT, status TEXT, "
                     "counterparty_id TEXT, signed_at TEXT, start_date TEXT, end_date TEXT, amount INTEGER, "
                     "currency TEXT, payment_terms TEXT, supplier_code TEXT, purchase_orders TEXT",
        "milestones": "id TEXT PRIMARY KEY, contract_id TEXT, name TEXT, due_date TEXT, done_at TEXT, status TEXT",
    },
    "desk": {
        "orgs": "id TEXT PRIMARY KEY, name TEXT",
        "tickets": "id TEXT PRIMARY KEY, org_id TEXT, subject TEXT, kind TEXT, status TEXT, priority TEXT, "
                   "opened_at TEXT, resolved_at TEXT, sla_due_at TEXT, contract_number TEXT, order_id TEXT",
    },
}

# Every column the apps look rows up by.
INDEXES = {
    "crm": [
        ("customers_owner", "customers(owner_id)"), ("customers_team", "customers(team)"),
        ("customers_tier", "customers(tier)"), ("customers_recent", "customers(last_activity_at DESC, id)"),
        ("customers_erp", "customers(erp_ref)"), ("customers_clm", "customers(clm_ref)"),
        ("customers_desk", "customers(desk_ref)"), ("contacts_customer", "contacts(customer_id)"),
        ("opportunities_customer", "opportunities(customer_id)"),
        ("activities_customer", "activities(customer_id, at DESC, id DESC)"),
    ],
    "erp": [
        ("receipts_stock", "receipts(sku, warehouse, expected_date)"),
        ("orders_party", "orders(party_code, ordered_at, id)"),
        ("orders_contract", "orders(contract_number, ordered_at, id)"),
        ("orders_open", "orders(status, id, warehouse)"),  # with order_lines_open: allocated stock
        ("order_lines_open", "order_lines(order_id, sku, quantity, shipped_quantity)"),
        ("shipments_order", "shipments(order_id)"),
        ("invoices_party", "invoices(party_code, issued_at, id)"),
        ("invoices_order", "invoices(order_id, issued_at, id)"),
        ("payments_invoice", "payments(invoice_id)"),
        ("open_items_party", "open_items(party_code, date, id)"),
    ],
    "clm": [
        ("contracts_counterparty", "contracts(counterparty_id)"),
        ("contracts_supplier", "contracts(supplier_code)"),
        ("milestones_contract", "milestones(contract_id, due_date)"),
    ],
    "desk": [
        ("tickets_org", "tickets(org_id, opened_at, id)"), ("tickets_contract", "tickets(contract_number)"),
        ("tickets_order", "tickets(order_id)"),
    ],
}

# The supply side's systems, and the ERP's movement history (demo/supply.py).
SCHEMA.update(supply.SCHEMA)
SCHEMA["erp"].update(supply.ERP_SCHEMA)
INDEXES.update(supply.INDEXES)
INDEXES["erp"] += supply.ERP_INDEXES


# --- the entities the generator reasons about -----------------------------------------

@dataclass(eq=False)
class Customer:
    name: str
    name_local: str | None
    country: str
    region: str
    tier: str
    industry: str
    rating: str
    team: str
    owner: str
    created: date
    tax_id: str
    id: str = ""
    erp: str | None = None
    clm: str | None = None
    desk: str | None = None
    terms: str = "NET30"
    payer: str = "PROMPT"
    contracts: list = field(default_factory=list)
    orders: list = field(default_factory=list)


@dataclass(eq=False)
class Supplier:
    name: str
    tax_id: str
    clm: str | None = None
    contracts: list = field(default_factory=list)


@dataclass(eq=False)
class Product:
    sku: str
    name: str
    name_local: str | None
    uom: str
    level: int
    cost: int
    assembly: int = 0
    price: int = 0
    bom: list = field(default_factory=list)  # (component Product, quantity in hundredths)

    @property
    def tax_category(self) -> str:
        return "REDUCED" if not self.level and self.uom in BULK_UOMS else "STANDARD"

    @property
    def tax_rate(self) -> int:
        return TAX_RATES[self.tax_category]


@dataclass(eq=False)
class Contract:
    owner: Customer | Supplier
    kind: str
    status: str
    title: str
    start: date
    end: date
    signed: date | None
    amount: int
    terms: str
    id: str = ""
    number: str = ""
    milestones: list = field(default_factory=list)


@dataclass(eq=False)
class Line:
    line_no: int
    product: Product
    quantity: int  # whole units
    price: int
    shipped: int = 0

    @property
    def net(self) -> int:
        return self.price * self.quantity

    @property
    def tax(self) -> int:
        return line_tax(self.price * self.quantity, self.product.tax_rate)


@dataclass(eq=False)
class Order:
    customer: Customer
    contract: Contract | None
    ordered: date
    ordered_at: str
    promised: date
    warehouse: str
    lines: list
    stage: str  # DRAFT, CONFIRMED, PROCESSING, FULL or CANCELLED; FULL becomes SHIPPED or DONE
    id: str = ""
    status: str = ""
    shipments: list = field(default_factory=list)  # (date, {Line: units})
    invoices: list = field(default_factory=list)


@dataclass(eq=False)
class Invoice:
    order: Order
    issued: date
    due: date
    amount: int  # gross: net + tax
    net: int
    tax: int
    cancelled: bool = False
    payments: list = field(default_factory=list)  # (date, cents)
    id: str = ""

    @property
    def paid(self) -> int:
        return sum(amount for _, amount in self.payments)

    @property
    def paid_net(self) -> int:
        """The net share of what was paid (payments settle gross amounts)."""
        return (2 * self.net * self.paid + self.amount) // (2 * self.amount) if self.amount else 0  # half up

    @property
    def status(self) -> str:
        if self.cancelled:
            return "CANCELLED"
        return "PAID" if self.paid == self.amount else "PARTIALLY_PAID" if self.paid else "OPEN"


# --- the world -------------------------------------------------------------------------

class World:
    """Builds every record of the four systems from one random stream, in a fixed order."""

    def __init__(self, anchor: date, seed: int = SEED):
        self.rng = random.Random(seed)
        self.seed = seed
        self.anchor = anchor
        self.used: set[str] = set()  # names, tax ids and e-mails already taken
        self.rows: dict[str, dict[str, list[tuple]]] = {s: {} for s in SYSTEMS}

    def build(self) -> dict[str, dict[str, list[tuple]]]:
        self.build_reps()
        self.build_customers()
        self.build_products()
        self.build_contracts()
        self.build_orders()
        self.build_billing()
        self.build_parties()
        self.write_contracts()
        self.build_stock()
        self.build_crm_details()
        self.build_tickets()
        self.build_open_items()
        supply.Supply(self).build()
        return self.rows

    # helpers ------------------------------------------------------------------------

    def day(self, offset: int) -> date:
        return self.anchor + timedelta(days=offset)

    def instant(self, d: date) -> str:
        r = self.rng
        return f"{d.isoformat()}T{r.randint(7, 18):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}Z"

    def pick(self, weights: dict[str, float]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def unique(self, make) -> str:
        for _ in range(500):
            value = make()
            if value not in self.used:
                self.used.add(value)
                return value
        raise RuntimeError("name pool exhausted")

    def person(self, country: str) -> str:
        firsts, lasts = vocab.PEOPLE[country]
        return f"{self.rng.choice(firsts)} {self.rng.choice(lasts)}"

    # CRM: reps and customers ----------------------------------------------------------

    def build_reps(self) -> None:
        self.team_reps: dict[str, list[str]] = {}
        rows = []
        for team, size in TEAM_SIZES.items():
            for _ in range(size):
                rep_id = f"R{len(rows) + 1:03d}"
                name = self.person(self.rng.choice(vocab.TEAMS[team]))
                email = self.unique(lambda: f"{slug(name, '.')}{self.rng.choice(['', '', '2', '3'])}@isthmus-demo.example")
                rows.append((rep_id, name, email, team))
                self.team_reps.setdefault(team, []).append(rep_id)
        self.rows["crm"]["reps"] = rows

    def build_customers(self) -> None:
        r = self.rng
        team_of = {country: team for team, countries in vocab.TEAMS.items() for country in countries}
        customers = []
        for _ in range(CUSTOMERS):
            region = self.pick(REGION_WEIGHTS)
            country = r.choice(vocab.REGIONS[region])
            team = team_of[country]
            name, name_local = self.company_name(country)
            customers.append(Customer(
                name=name, name_local=name_local, country=country, region=region,
                tier=self.pick(TIERS), industry=r.choice(vocab.INDUSTRIES), rating=self.pick(RATINGS),
                team=team, owner=r.choice(self.team_reps[team]), created=self.day(-r.randint(1850, 4000)),
                tax_id=self.unique(lambda: tax_id(r, country)),
            ))
        customers.sort(key=lambda c: c.created)  # ids follow creation, like a real CRM
        for n, customer in enumerate(customers, 1):
            customer.id = f"C{n:05d}"
        self.customers = customers
        self.suppliers = [Supplier(name, self.unique(lambda: tax_id(r, "DE"))) for name in vocab.SUPPLIER_NAMES]
        self.assign_refs("erp", "P{:05d}", customers)
        self.assign_refs("clm", "CP{:05d}", customers, extra=self.suppliers)
        self.assign_refs("desk", "ORG{:05d}", customers)

    def company_name(self, country: str) -> tuple[str, str | None]:
        r = self.rng
        if country in vocab.CJK_COMPANY:
            firsts, seconds, latin_fmt, local_fmt = vocab.CJK_COMPANY[country]

            def make():
                a, b = r.choice(firsts), r.choice(seconds)
                if r.random() < 0.35:
                    city = r.choice(vocab.CITIES[country])
                    a = (f"{city[0]} {a[0]}", city[1] + a[1])
                return latin_fmt.format(a=a[0], b=b[0]) + "|" + local_fmt.format(a=a[1], b=b[1])

            name, local = self.unique(make).split("|")
            return name, local
        heads, bodies, legal = vocab.LATIN_COMPANY[country]

        def make():
            parts = [r.choice(heads), r.choice(bodies)]
            if r.random() < 0.35:
                parts.append(r.choice(vocab.CITIES[country]))
            return " ".join(parts + [r.choice(legal)])

        local = self.unique(make)
        name = ascii_fold(local, country)
        return name, (local if local != name else None)

    def assign_refs(self, system: str, fmt: str, customers: list, extra: list = ()) -> None:
        """Leave a share of customers out of `system`; number the rest in shuffled order."""
        missing = set(self.rng.sample(range(len(customers)), round(len(customers) * MISSING_SHARE[system])))
        members = [c for i, c in enumerate(customers) if i not in missing] + list(extra)
        self.rng.shuffle(members)
        for n, member in enumerate(members, 1):
            setattr(member, system, fmt.format(n))

    # ERP: products and BOMs ------------------------------------------------------------

    def build_products(self) -> None:
        r = self.rng
        products = []
        for i in range(380):
            en, de, uom, base = vocab.PURCHASED_ITEMS[i % len(vocab.PURCHASED_ITEMS)]
            spec = self.unique(lambda: f"{en} {r.choice('ABCDEFHKLMNPRSTX')}-{r.randint(10, 999)}")[len(en) + 1:]
            cost = max(5, round(base * 100 * r.lognormvariate(0, 0.45)))
            products.append(Product(f"SKU-{i + 1:04d}", f"{en} {spec}", f"{de} {spec}", uom, 0, cost,
                                    price=round(cost * r.uniform(1.35, 2.1))))
        for level, count, assembly in ((1, 50, (2000, 20000)), (2, 40, (10000, 60000)), (3, 30, (50000, 300000))):
            below = [p for p in products if p.level < level]
            previous = [p for p in products if p.level == level - 1]
            for _ in range(count):
                en, de = r.choice(vocab.MANUFACTURED_ITEMS[level])
                initials = "".join(w[0] for w in en.split()).upper()
                model = self.unique(lambda: f"{en} {initials}-{r.randint(10, 99) * 10 ** level}")
                model = model[len(en) + 1:]
                product = Product(f"SKU-{len(products) + 1:04d}", f"{en} {model}", f"{de} {model}", "EA",
                                  level, 0, assembly=r.randint(*assembly))
                components, wanted = [r.choice(previous)], r.randint(3, 7 if level == 1 else 5)
                while len(components) < wanted:  # one from the level just below, so depth is exact
                    candidate = r.choice(below)
                    if candidate not in components:
                        components.append(candidate)
                product.bom = [(c, self.bom_quantity(c)) for c in components]
                rolled_up = product.assembly + round(sum(c.cost * q for c, q in product.bom) / 100)
                product.cost = round(rolled_up * r.uniform(0.92, 1.08))
                if product.cost == rolled_up:  # standard cost is a plan, never exactly the roll-up
                    product.cost += max(1, rolled_up // 100)
                product.price = round(product.cost * r.uniform(1.3, 1.9))
                products.append(product)
        self.products = products
        self.popularity_ladder = list(itertools.accumulate(self.popularity(p) for p in products))
        self.rows["erp"]["products"] = [
            (p.sku, p.name, p.name_local, p.uom, p.price, p.cost, p.assembly, "EUR",
             "MANUFACTURED" if p.level else "PURCHASED", p.tax_category, p.tax_rate) for p in products]
        self.rows["erp"]["bom_lines"] = [(p.sku, c.sku, q) for p in products for c, q in p.bom]
        self.rows["erp"]["warehouses"] = list(vocab.WAREHOUSES)

    def bom_quantity(self, component: Product) -> int:
        """Quantity per parent in hundredths: pieces for EA, fractions for KG/M/L."""
        r = self.rng
        if component.level:
            return 100 * r.randint(1, 3)
        if component.uom == "EA":
            return 100 * (r.randint(2, 24) if component.cost < 500 else r.randint(1, 4))
        return r.choice([50, 75, 125, 250, 400, 750, 1250])

    def popularity(self, product: Product) -> float:
        return (1.0, 1.3, 1.0, 0.5)[product.level] * self.rng.paretovariate(1.4)

    # CLM: contracts and milestones --------------------------------------------------------

    def build_contracts(self) -> None:
        r = self.rng
        counts = {"STRATEGIC": (4, 8), "KEY": (2, 4), "STANDARD": (1, 2), "SMALL": (0, 2)}
        contracts = []
        for customer in self.customers:
            if customer.clm:
                for _ in range(r.randint(*counts[customer.tier])):
                    kind = self.pick({"SALES": 55, "SERVICE": 35, "PURCHASE": 10})
                    contracts.append(self.contract(customer, kind))
        for supplier in self.suppliers:
            for _ in range(r.randint(1, 4)):
                contracts.append(self.contract(supplier, "PURCHASE"))
        contracts.sort(key=lambda c: c.start)
        for n, contract in enumerate(contracts, 1):
            contract.id = f"K{n:05d}"
            contract.number = f"CT-{contract.start.year}-{n:05d}"
            contract.owner.contracts.append(contract)
        self.contracts = contracts

    def contract(self, owner, kind: str) -> Contract:
        r = self.rng
        status = self.pick({"DRAFT": 4, "IN_APPROVAL": 6, "ACTIVE": 52, "COMPLETED": 30, "TERMINATED": 8})
        if status == "ACTIVE":
            start, end = self.day(-r.randint(30, 900)), self.day(r.randint(30, 900))
        elif status == "COMPLETED":
            end = self.day(-r.randint(1, 700))
            start = end - timedelta(days=r.randint(180, 1100))
        elif status == "TERMINATED":
            start = self.day(-r.randint(100, 1000))
            end = start + timedelta(days=r.randint(365, 1095))
        else:
            start = self.day(r.randint(0, 90))
            end = start + timedelta(days=r.randint(365, 1095))
        signed = None if status in ("DRAFT", "IN_APPROVAL") else start - timedelta(days=r.randint(1, 30))
        if kind == "SALES":
            family = r.choice(vocab.MANUFACTURED_ITEMS[r.randint(2, 3)])[0]
            title = f"Frame agreement {start.year}: {family.lower()}s and spare parts"
        elif kind == "SERVICE":
            title = r.choice(["Maintenance & support", "Full service agreement", "Spare parts service"]) + f" {start.year}"
        else:
            title = f"Supply of {r.choice(vocab.PURCHASED_ITEMS)[0].lower()}s"
        tier = getattr(owner, "tier", "STANDARD")
        base = {"STRATEGIC": 2_000_000, "KEY": 500_000, "STANDARD": 120_000, "SMALL": 30_000}[tier]
        amount = int(round(base * r.uniform(0.2, 1.5), -3)) * 100
        terms = self.pick({"NET30": 50, "NET45": 15, "NET60": 20, "NET14": 5, "NET90": 10})
        contract = Contract(owner, kind, status, title, start, end, signed, amount, terms)
        contract.milestones = self.milestones(contract)
        return contract

    def milestones(self, contract: Contract) -> list[tuple[str, date, date | None]]:
        """Spread over the contract; past ones mostly done, some late (due, not done)."""
        r = self.rng
        names = vocab.MILESTONES[contract.kind]
        chosen = sorted(r.sample(range(len(names)), r.randint(2, min(5, len(names)))))
        span = (contract.end - contract.start).days
        done_share = {"COMPLETED": 1.0, "ACTIVE": 0.85, "TERMINATED": 0.6}.get(contract.status, 0.0)
        result = []
        for k, index in enumerate(chosen):
            due = contract.start + timedelta(days=span * (k + 1) // (len(chosen) + 1) + r.randint(-10, 10))
            done = None
            if due < self.anchor and r.random() < done_share:
                done = min(due + timedelta(days=r.randint(-10, 20)), self.anchor)
            elif due >= self.anchor and contract.status == "ACTIVE" and r.random() < 0.05:
                done = max(self.day(-r.randint(0, 20)), contract.start)
            result.append((names[index], due, done))
        return result

    # ERP: orders and their fulfilment ----------------------------------------------------

    def build_orders(self) -> None:
        r = self.rng
        counts = {"STRATEGIC": (30, 55), "KEY": (10, 20), "STANDARD": (3, 8), "SMALL": (1, 4)}
        orders = []
        for customer in self.customers:
            if not customer.erp:
                continue
            window = self.day(-730)
            frames = [c for c in customer.contracts if c.kind == "SALES" and c.status in ("ACTIVE", "COMPLETED")
                      and max(c.start, window) < min(c.end, self.anchor)]
            for _ in range(r.randint(*counts[customer.tier])):
                contract = r.choice(frames) if frames and r.random() < 0.6 else None
                if contract:
                    first, last = max(contract.start, window), min(contract.end, self.day(-1))
                    ordered = first + timedelta(days=r.randint(0, (last - first).days))
                else:
                    ordered = self.day(-r.randint(1, 730))
                orders.append(self.order(customer, contract, ordered))
        orders.sort(key=lambda o: o.ordered_at)
        for n, order in enumerate(orders, 1):
            order.id = f"O{n:06d}"
            order.customer.orders.append(order)
        self.orders = orders

    def order(self, customer: Customer, contract: Contract | None, ordered: date) -> Order:
        r = self.rng
        big = customer.tier in ("STRATEGIC", "KEY")
        discount = {"STRATEGIC": (0.18, 0.25), "KEY": (0.10, 0.18), "STANDARD": (0.03, 0.10), "SMALL": (0.0, 0.05)}
        low, high = discount[customer.tier]
        products: list[Product] = []
        wanted = r.randint(2, 9) if big else r.randint(1, 7)
        while len(products) < wanted:
            product = r.choices(self.products, cum_weights=self.popularity_ladder)[0]
            if product not in products:
                products.append(product)
        lines = [Line(n, p, order_quantity(r, p.price), round(p.price * (1 - r.uniform(low, high))))
                 for n, p in enumerate(products, 1)]
        warehouse = REGION_WAREHOUSE[customer.region] if r.random() < 0.9 else r.choice(list(REGION_WAREHOUSE.values()))
        order = Order(customer, contract, ordered, self.instant(ordered), ordered + timedelta(days=r.randint(7, 45)),
                      warehouse, lines, self.stage((self.anchor - ordered).days))
        if order.stage in ("PROCESSING", "FULL"):
            self.plan_shipments(order)
        return order

    def stage(self, age: int) -> str:
        """Fulfilment stage by the order's age in days: young orders are open, old ones done."""
        if age <= 3:
            table = {"DRAFT": 35, "CONFIRMED": 65}
        elif age <= 14:
            table = {"CONFIRMED": 45, "PROCESSING": 25, "FULL": 25, "CANCELLED": 5}
        elif age <= 45:
            table = {"CONFIRMED": 8, "PROCESSING": 17, "FULL": 71, "CANCELLED": 4}
        else:
            table = {"DRAFT": 0.5, "CONFIRMED": 0.5, "PROCESSING": 1, "FULL": 95.5, "CANCELLED": 2.5}
        return self.pick(table)

    def plan_shipments(self, order: Order) -> None:
        """Decide what ships when: everything (FULL) or part of it (PROCESSING)."""
        r = self.rng
        if order.stage == "FULL":
            shipped = {line: line.quantity for line in order.lines}
        else:
            shipped = {}
            for line in order.lines:
                roll = r.random()
                if roll < 0.45:
                    shipped[line] = line.quantity
                elif roll < 0.75 and line.quantity > 1:
                    shipped[line] = r.randint(1, line.quantity - 1)
            if not shipped:
                line = order.lines[0]
                shipped[line] = max(1, line.quantity // 2)
            if all(shipped.get(line) == line.quantity for line in order.lines):
                line = order.lines[-1]
                if line.quantity > 1:
                    shipped[line] = line.quantity - 1
                else:
                    del shipped[line]
        if not shipped:  # a one-line, one-piece order cannot be partly shipped
            order.stage = "CONFIRMED"
            return
        lines = list(shipped)
        r.shuffle(lines)
        count = min(int(self.pick({"1": 35, "2": 35, "3": 30})), len(lines))
        parcels: list[dict[Line, int]] = [{} for _ in range(count)]
        for i, line in enumerate(lines):  # every parcel gets a line; some lines are split over two
            quantity, target = shipped[line], i if i < count else r.randrange(count)
            if count > 1 and quantity > 1 and r.random() < 0.2:
                first = r.randint(1, quantity - 1)
                parcels[target][line] = first
                parcels[(target + 1) % count][line] = quantity - first
            else:
                parcels[target][line] = quantity
        last = min(self.day(-1), order.ordered + timedelta(days=60))
        when = min(order.ordered + timedelta(days=1 + r.randint(0, 14)), last)
        for parcel in parcels:
            order.shipments.append((when, parcel))
            when = min(when + timedelta(days=r.randint(1, 12)), last)
        for line, quantity in shipped.items():
            line.shipped = quantity

    # ERP: shipments, invoices, payments ------------------------------------------------

    def build_billing(self) -> None:
        for customer in self.customers:
            customer.terms = self.pick({"NET30": 55, "NET45": 15, "NET60": 15, "NET14": 10, "NET90": 5})
            bad = {"AAA": 0, "AA": 1, "A": 2, "BBB": 4, "BB": 8, "B": 15, "CCC": 30, "CC": 40, "C": 50}[customer.rating]
            slow = {"AAA": 5, "AA": 8, "A": 12, "BBB": 18, "BB": 25, "B": 30, "CCC": 35, "CC": 35, "C": 30}[customer.rating]
            customer.payer = self.pick({"BAD": bad, "SLOW": slow, "PROMPT": 100 - bad - slow})
        for order in self.orders:
            terms = timedelta(days=int((order.contract or order.customer).terms[3:]))
            for shipped, parcel in order.shipments:
                self.bill(order, shipped, parcel, terms)
            self.settle(order)
        self.write_erp_documents()

    def bill(self, order: Order, shipped: date, parcel: dict, terms: timedelta) -> None:
        """One invoice per shipment, a day or two later; a few are cancelled and re-issued."""
        r = self.rng
        issued = shipped + timedelta(days=r.randint(0, 2))
        if issued > self.anchor:
            return  # shipped, not billed yet
        net = sum(line.price * quantity for line, quantity in parcel.items())
        tax = sum(line_tax(line.price * quantity, line.product.tax_rate) for line, quantity in parcel.items())
        if r.random() < 0.03:
            order.invoices.append(Invoice(order, issued, issued + terms, net + tax, net, tax, cancelled=True))
            issued += timedelta(days=r.randint(1, 10))
            if issued > self.anchor:
                return
        invoice = Invoice(order, issued, issued + terms, net + tax, net, tax)
        invoice.payments = self.payments(invoice, order.customer.payer)
        order.invoices.append(invoice)

    def payments(self, invoice: Invoice, payer: str) -> list[tuple[date, int]]:
        """When this customer pays (prompt, slow or bad payer); only payments up to today exist."""
        r = self.rng
        amount, roll = invoice.amount, r.random()
        part = round(amount * r.uniform(0.2, 0.7))
        late = lambda lo, hi: invoice.due + timedelta(days=r.randint(lo, hi))
        if payer == "PROMPT":  # on time, now and then late, rarely disputed for months
            plan = [(late(-10, 3), amount)] if roll < 0.95 else [(late(5, 45), amount)] if roll < 0.998 else [
                (late(60, 300), amount)]
        elif payer == "SLOW":
            plan = ([(late(5, 70), amount)] if roll < 0.8
                    else [(late(0, 30), part), (late(40, 120), amount - part)] if roll < 0.97
                    else [(late(90, 200), amount)])
        else:  # BAD: pays months late, often in instalments
            plan = ([(late(20, 150), amount)] if roll < 0.45
                    else [(late(10, 60), part), (late(100, 400), amount - part)] if roll < 0.7
                    else [(late(120, 400), amount)])
        return [(max(when, invoice.issued), cents) for when, cents in plan if when <= self.anchor]

    def settle(self, order: Order) -> None:
        """Final status: a fully shipped order is DONE once every shipment is billed and paid."""
        order.status = order.stage
        if order.stage == "FULL":
            valid = [i for i in order.invoices if not i.cancelled]
            shipped = sum(line.price * line.shipped for line in order.lines)
            settled = sum(i.net for i in valid) == shipped and all(i.paid == i.amount for i in valid)
            order.status = "DONE" if settled else "SHIPPED"

    def write_erp_documents(self) -> None:
        """Number shipments, invoices and payments chronologically, as an ERP would."""
        shipments = sorted(((when, o, parcel) for o in self.orders for when, parcel in o.shipments),
                           key=lambda s: (s[0], s[1].id))
        invoices = sorted((i for o in self.orders for i in o.invoices), key=lambda i: (i.issued, i.order.id))
        for n, invoice in enumerate(invoices, 1):
            invoice.id = f"I{n:06d}"
        payments = sorted(((when, i.id, cents) for i in invoices for when, cents in i.payments))
        erp = self.rows["erp"]
        erp["payments"] = [(f"PM{n:06d}", invoice_id, when.isoformat(), cents)
                           for n, (when, invoice_id, cents) in enumerate(payments, 1)]
        erp["invoices"] = [
            (i.id, f"INV-{i.issued.year}-{i.id[1:]}", i.order.customer.erp, i.order.id, i.issued.isoformat(),
             i.due.isoformat(), i.amount, i.paid, i.status, "EUR", i.net, i.tax) for i in invoices]
        erp["shipments"], erp["shipment_lines"] = [], []
        for n, (when, order, parcel) in enumerate(shipments, 1):
            erp["shipments"].append((f"SH{n:06d}", order.id, self.instant(when), order.warehouse))
            erp["shipment_lines"].extend((f"SH{n:06d}", line.product.sku, 100 * q) for line, q in parcel.items())
        erp["orders"], erp["order_lines"] = [], []
        for order in self.orders:
            valid = [i for i in order.invoices if not i.cancelled]
            erp["orders"].append((
                order.id, f"SO-{order.ordered.year}-{order.id[1:]}", order.customer.erp,
                order.contract.number if order.contract else None, order.status, order.ordered_at,
                order.promised.isoformat(), order.warehouse, "EUR",
                sum(line.net for line in order.lines),
                sum(line.price * line.shipped for line in order.lines),
                sum(i.net for i in valid), sum(i.paid_net for i in valid),
                sum(line.tax for line in order.lines), sum(i.tax for i in valid),
                sum(i.paid - i.paid_net for i in valid)))
            erp["order_lines"].extend(
                (order.id, line.line_no, line.product.sku, 100 * line.quantity, 100 * line.shipped,
                 line.price, line.net, line.product.cost, line.product.tax_rate, line.tax) for line in order.lines)

    # ERP: parties and credit limits --------------------------------------------------------

    def build_parties(self) -> None:
        """Credit limits sized from exposure: ~5 % over the limit, a few exactly at it."""
        r = self.rng
        members = [c for c in self.customers if c.erp]
        exposure = {c: self.exposure(c) for c in members}
        candidates = [c for c in members if exposure[c][0] >= 500_000]
        over = set(r.sample(candidates, round(len(members) * 0.05)))
        exact = [c for c in candidates if c not in over and exposure[c][0] == exposure[c][1]][:4]
        self.exact_fit = set(exact)
        base = {"STRATEGIC": 2_000_000, "KEY": 500_000, "STANDARD": 100_000, "SMALL": 25_000}
        rows = []
        for customer in sorted(members, key=lambda c: c.erp):
            strict, broad = exposure[customer]
            if customer in over:
                limit = max(100_000, math.floor(strict * r.uniform(0.55, 0.9) / 100_000) * 100_000)
            elif customer in exact:
                limit = strict
            else:
                wanted = max(base[customer.tier] * 100 * r.uniform(0.5, 1.5), broad * r.uniform(1.25, 3))
                limit = math.ceil(wanted / 500_000) * 500_000
            rows.append((customer.erp, customer.name, limit, "EUR", customer.terms))
        self.rows["erp"]["parties"] = rows

    def exposure(self, customer: Customer) -> tuple[int, int]:
        """(open receivables + uninvoiced CONFIRMED/PROCESSING orders, same with every unbilled order), gross."""
        receivable = sum(i.amount - i.paid for o in customer.orders for i in o.invoices if not i.cancelled)
        strict = broad = receivable
        for order in customer.orders:
            unbilled = sum(line.net + line.tax for line in order.lines) - sum(
                i.amount for i in order.invoices if not i.cancelled)
            if order.status in OPEN_ORDER:
                strict += unbilled
            if order.status != "CANCELLED":
                broad += unbilled
        return strict, broad

    def build_open_items(self) -> None:
        """Receivable entries no invoice carries: opening balances carried over from the old
        system (some past due) and payments received that match no invoice (unapplied); and credit
        notes (negative invoices, open, no order) for a few customers. A stream of its own, so the
        rest of the world stays as it was."""
        r = random.Random(f"{self.seed}-open-items")
        members = sorted((c for c in self.customers if c.erp), key=lambda c: c.erp)
        items, notes = [], []
        for customer in members:
            billed = [i for o in customer.orders for i in o.invoices if not i.cancelled]
            if billed and customer not in self.exact_fit and r.random() < 0.02:
                credited = r.choice(billed)  # a credit of a tenth of one of its invoices
                issued = max(credited.issued, self.day(-r.randint(1, 20)))
                net = -(credited.net // 10)
                tax = -(credited.tax // 10)
                notes.append((issued, customer.erp, net, tax))
            roll = r.random()
            if roll < 0.03:
                when = self.day(-r.randint(20, 150))
                items.append((customer.erp, when, when + timedelta(days=30), 100 * r.randint(200, 20000),
                              "Opening balance carried over"))
            elif roll < 0.05:
                items.append((customer.erp, self.day(-r.randint(1, 30)), None, -100 * r.randint(100, 5000),
                              "Payment received, no invoice matched"))
        items.sort(key=lambda item: (item[1], item[0]))
        self.rows["erp"]["open_items"] = [
            (f"OI{n:05d}", party, when.isoformat(), due and due.isoformat(), cents, text, "EUR")
            for n, (party, when, due, cents, text) in enumerate(items, 1)]
        notes.sort()
        self.rows["erp"]["invoices"] += [
            (f"CN{n:05d}", f"CN-{issued.year}-{n:05d}", party, None, issued.isoformat(),
             (issued + timedelta(days=30)).isoformat(), net + tax, 0, "OPEN", "EUR", net, tax)
            for n, (issued, party, net, tax) in enumerate(notes, 1)]

    # ERP: stock and receipts ---------------------------------------------------------------

    def build_stock(self) -> None:
        """On-hand set around the open demand so that shortages, exact fits and surpluses all occur."""
        r = self.rng
        allocated: dict[tuple[str, str], int] = {}
        for order in self.orders:
            if order.status in OPEN_ORDER:
                for line in order.lines:
                    key = (line.product.sku, order.warehouse)
                    allocated[key] = allocated.get(key, 0) + line.quantity - line.shipped
        stock, receipts = [], []
        for product in self.products:
            kind = "PRODUCTION" if product.level else "PURCHASE"
            for warehouse, _, _ in vocab.WAREHOUSES:
                demand = allocated.get((product.sku, warehouse), 0)
                typical = order_quantity(r, product.price) * r.randint(2, 12)
                incoming: list[int] = []
                roll = r.random()
                if demand and roll < 0.16:  # shortage: covered later, exactly covered, or not at all
                    short = r.randint(1, demand)
                    on_hand = demand - short
                    if roll < 0.10:
                        incoming = split(r, short + r.randint(0, 2 * short + 5))
                    elif roll < 0.12:
                        incoming = split(r, short)
                elif demand and roll < 0.20:  # exactly enough: available is zero
                    on_hand = demand
                    incoming = split(r, typical) if r.random() < 0.5 else []
                elif not demand and roll < 0.04:  # nothing on hand, nothing ordered
                    on_hand = 0
                    incoming = split(r, typical) if r.random() < 0.5 else []
                else:
                    on_hand = demand + typical
                    incoming = split(r, typical) if r.random() < 0.3 else []
                stock.append((product.sku, warehouse, 100 * on_hand))
                for quantity in incoming:
                    expected = self.day(-r.randint(1, 10) if r.random() < 0.04 else r.randint(1, 75))
                    receipts.append((expected, product.sku, warehouse, kind, quantity))
        receipts.sort(key=lambda x: (x[0], x[1], x[2]))
        self.rows["erp"]["stock"] = stock
        self.rows["erp"]["receipts"] = [(f"RC{n:05d}", sku, wh, kind, when.isoformat(), 100 * q)
                                        for n, (when, sku, wh, kind, q) in enumerate(receipts, 1)]
        self.rows["erp"]["receipts"] += self.planned_consumption(receipts)

    def planned_consumption(self, receipts: list[tuple]) -> list[tuple]:
        """Planned demand after today: a share of the production receipts have their components'
        consumption planned a day or two before the output arrives (negative quantities, kind
        PRODUCTION), so ATP must keep back what later production will take. A stream of its
        own, so the rest of the world stays as it was."""
        r = random.Random(f"{self.seed}-consumption")
        by_sku = {p.sku: p for p in self.products}
        planned: dict[tuple[date, str, str], int] = {}
        for when, sku, warehouse, kind, quantity in receipts:
            if kind != "PRODUCTION" or when <= self.anchor or r.random() >= PLANNED_CONSUMPTION_SHARE:
                continue
            start = max(self.day(1), when - timedelta(days=r.randint(0, 2)))
            for component, per_unit in by_sku[sku].bom:
                key = (start, component.sku, warehouse)
                planned[key] = planned.get(key, 0) + quantity * per_unit  # hundredths
        return [(f"PC{n:05d}", sku, warehouse, "PRODUCTION", when.isoformat(), -hundredths)
                for n, ((when, sku, warehouse), hundredths) in enumerate(sorted(planned.items()), 1)]

    # CRM: contacts, opportunities, activities -----------------------------------------

    def build_crm_details(self) -> None:
        r = self.rng
        contacts, opportunities, activities = [], [], []
        sizes = {  # contacts, opportunities, activities per customer
            "STRATEGIC": ((4, 5), (3, 8), (40, 80)), "KEY": ((3, 5), (2, 5), (15, 35)),
            "STANDARD": ((1, 4), (0, 3), (4, 14)), "SMALL": ((1, 2), (0, 2), (1, 6)),
        }
        last_activity = {}
        for customer in self.customers:
            n_contacts, n_opportunities, n_activities = sizes[customer.tier]
            domain = f"{slug(' '.join(customer.name.split()[:2]), '-')}.{vocab.EMAIL_TLD[customer.country]}"
            for _ in range(r.randint(*n_contacts)):
                name = self.person(customer.country)
                phone = f"{vocab.PHONE_PREFIX[customer.country]} {r.randint(10, 999)} {r.randint(100000, 9999999)}"
                contacts.append((f"PS{len(contacts) + 1:05d}", customer.id, name, r.choice(vocab.TITLES),
                                 f"{slug(name, '.')}@{domain}", phone))
            for _ in range(r.randint(*n_opportunities)):
                stage, probability = r.choice(vocab.OPPORTUNITY_STAGES)
                closed = stage.startswith("CLOSED")
                close = self.day(-r.randint(1, 500) if closed else r.randint(5, 200))
                scale = {"STRATEGIC": 800_000, "KEY": 250_000, "STANDARD": 60_000, "SMALL": 15_000}[customer.tier]
                opportunities.append((f"OP{len(opportunities) + 1:05d}", customer.id,
                                      f"{r.choice(vocab.OPPORTUNITY_TOPICS)} {close.year}", stage,
                                      int(round(scale * r.uniform(0.1, 1.5), -2)) * 100, close.isoformat(), probability))
            created = (customer.created - self.anchor).days
            newest = max(created, -r.randint(120, 600) if r.random() < 0.15 else -r.randint(1, 30))  # some gone quiet
            oldest = max(newest - 720, created)
            reps = self.team_reps[customer.team]
            stamps = sorted([self.instant(self.day(newest))] + [
                self.instant(self.day(r.randint(oldest, newest))) for _ in range(r.randint(*n_activities) - 1)])
            for at in stamps:
                kind = self.pick({"CALL": 35, "EMAIL": 35, "MEETING": 20, "VISIT": 10})
                by = customer.owner if r.random() < 0.8 else r.choice(reps)
                activities.append((at, customer.id, kind, r.choice(vocab.ACTIVITY_SUBJECTS[kind]), by))
            last_activity[customer] = stamps[-1]
        activities.sort(key=lambda a: (a[0], a[1]))
        self.rows["crm"].update(
            customers=[(c.id, c.name, c.name_local, c.tax_id, c.tier, c.industry, c.region, c.rating, c.owner,
                        c.team, self.instant(c.created), last_activity[c], c.erp, c.clm, c.desk,
                        " ".join(filter(None, (c.id, c.name, c.name_local, c.tax_id))).casefold())
                       for c in self.customers],
            contacts=contacts, opportunities=opportunities,
            activities=[(f"A{n:06d}", cid, kind, subject, at, by)
                        for n, (at, cid, kind, subject, by) in enumerate(activities, 1)])

    def write_contracts(self) -> None:
        clm = self.rows["clm"]
        parties = sorted([c for c in self.customers if c.clm] + self.suppliers, key=lambda p: p.clm)
        clm["counterparties"] = [(p.clm, p.name, p.tax_id) for p in parties]
        clm["contracts"] = [
            (c.id, c.number, c.title, c.kind, c.status, c.owner.clm, c.signed and c.signed.isoformat(),
             c.start.isoformat(), c.end.isoformat(), self.contract_amount(c), "EUR", c.terms)
            for c in self.contracts]
        clm["milestones"] = [
            (f"M{n:06d}", contract_id, name, due.isoformat(), done and done.isoformat(), "DONE" if done else "PENDING")
            for n, (contract_id, name, due, done) in enumerate(
                ((c.id, *m) for c in self.contracts for m in c.milestones), 1)]

    def contract_amount(self, contract: Contract) -> int:
        """A frame agreement's value follows the orders placed on it; others keep their drawn value."""
        ordered = sum(line.price * line.quantity for o in getattr(contract.owner, "orders", [])
                      if o.contract is contract and o.status != "CANCELLED" for line in o.lines)
        if not ordered:
            return contract.amount
        factor = self.rng.uniform(1.0, 1.1) if contract.status == "COMPLETED" else self.rng.uniform(1.1, 2.5)
        return math.ceil(ordered * factor / 100_000) * 100_000

    # DESK: orgs and tickets ------------------------------------------------------------

    def build_tickets(self) -> None:
        r = self.rng
        counts = {"STRATEGIC": (15, 30), "KEY": (6, 12), "STANDARD": (3, 7), "SMALL": (0, 5)}
        midnight = datetime.combine(self.anchor, datetime.min.time())
        tickets = []
        for customer in self.customers:
            if not customer.desk:
                continue
            bought = [line.product for o in customer.orders for line in o.lines] or self.products
            machines = [p for p in bought if p.level] or [p for p in self.products if p.level]  # what gets repaired
            for _ in range(r.randint(*counts[customer.tier])):
                opened = midnight - timedelta(days=1 + int(540 * r.random() ** 1.3)) + timedelta(
                    hours=r.randint(7, 18), minutes=r.randint(0, 59))
                kind = self.pick({"INQUIRY": 40, "COMPLAINT": 25, "RETURN": 15, "REPAIR": 20})
                priority = self.pick({"P1": 5, "P2": 20, "P3": 45, "P4": 30})
                sla = timedelta(hours=SLA_HOURS[priority])
                resolved = None if r.random() < 0.02 else opened + sla * r.lognormvariate(math.log(0.5), 0.7)
                if resolved and resolved < midnight:
                    status = "RESOLVED" if midnight - resolved < timedelta(days=14) and r.random() < 0.6 else "CLOSED"
                else:
                    resolved, status = None, self.pick({"OPEN": 40, "IN_PROGRESS": 60})
                subject = r.choice(vocab.TICKET_SUBJECTS[kind]).format(
                    product=r.choice(machines if kind == "REPAIR" else bought).name, code=r.randint(100, 999))
                tickets.append((opened, customer.desk, subject, kind, status, priority, resolved, opened + sla,
                                self.ticket_contract(customer, kind), self.ticket_order(customer, kind, opened)))
        tickets.sort(key=lambda t: (t[0], t[1]))
        stamp = lambda t: t and t.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.rows["desk"]["tickets"] = [
            (f"TK{n:06d}", org, subject, kind, status, priority, stamp(opened), stamp(resolved), stamp(due),
             contract, order)
            for n, (opened, org, subject, kind, status, priority, resolved, due, contract, order)
            in enumerate(tickets, 1)]
        self.rows["desk"]["orgs"] = sorted((c.desk, c.name) for c in self.customers if c.desk)

    def ticket_contract(self, customer: Customer, kind: str) -> str | None:
        service = [c for c in customer.contracts if c.kind == "SERVICE"]
        if service and kind in ("REPAIR", "INQUIRY") and self.rng.random() < 0.6:
            return self.rng.choice(service).number
        if customer.contracts and self.rng.random() < 0.15:
            return self.rng.choice(customer.contracts).number
        return None

    def ticket_order(self, customer: Customer, kind: str, opened: datetime) -> str | None:
        share = {"COMPLAINT": 0.75, "RETURN": 0.75, "INQUIRY": 0.2}.get(kind, 0.0)
        if self.rng.random() >= share:
            return None
        day = opened.date()
        earlier = [o for o in customer.orders if o.ordered < day and o.status not in ("DRAFT", "CANCELLED")]
        return self.rng.choice(earlier[-10:]).id if earlier else None


# --- small pure helpers ------------------------------------------------------------

def order_quantity(r: random.Random, price: int) -> int:
    """Whole units a customer orders at once: few machines, many screws."""
    euros = price / 100
    if euros > 20000:
        return r.randint(1, 2)
    if euros > 2000:
        return r.randint(1, 5)
    if euros > 200:
        return r.randint(1, 20)
    if euros > 20:
        return r.randint(2, 60)
    return r.choice([10, 20, 25, 50, 100, 200, 250, 500])


def line_tax(net_cents: int, rate_basis_points: int) -> int:
    """Tax of one line in cents, half up."""
    return (net_cents * rate_basis_points + 5000) // 10000


def split(r: random.Random, quantity: int) -> list[int]:
    """One or two receipts adding up to `quantity`."""
    if quantity > 1 and r.random() < 0.4:
        first = r.randint(1, quantity - 1)
        return [first, quantity - first]
    return [quantity] if quantity else []


GERMAN_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})


def ascii_fold(text: str, country: str) -> str:
    """How a name is registered in a Latin-only system: umlauts spelled out, accents dropped."""
    if country in ("DE", "CH"):
        text = text.translate(GERMAN_FOLD)
    text = text.replace("ł", "l").replace("Ł", "L")
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def slug(text: str, sep: str) -> str:
    words = "".join(ch if ch.isalnum() else " " for ch in ascii_fold(text, "DE").lower()).split()
    return sep.join(words)


def tax_id(r: random.Random, country: str) -> str:
    d = lambda n: "".join(str(r.randrange(10)) for _ in range(n))
    formats = {
        "DE": lambda: f"DE{d(9)}", "FR": lambda: f"FR{d(2)}{d(9)}", "GB": lambda: f"GB{d(9)}",
        "NL": lambda: f"NL{d(9)}B01", "IT": lambda: f"IT{d(11)}", "ES": lambda: f"ES{r.choice('ABCD')}{d(8)}",
        "SE": lambda: f"SE{d(10)}01", "CH": lambda: f"CHE-{d(3)}.{d(3)}.{d(3)}", "PL": lambda: f"PL{d(10)}",
        "US": lambda: f"{d(2)}-{d(7)}", "CA": lambda: f"{d(9)}RT0001", "JP": lambda: f"T{d(13)}",
        "CN": lambda: f"91{d(4)}MA{d(10)}", "KR": lambda: f"{d(3)}-{d(2)}-{d(5)}", "SG": lambda: f"20{d(7)}K",
        "IN": lambda: f"{d(2)}AAC{r.choice('CFH')}{d(4)}{r.choice('ABCDEF')}1Z{d(1)}",
        "AU": lambda: f"{d(2)} {d(3)} {d(3)} {d(3)}", "BR": lambda: f"{d(2)}.{d(3)}.{d(3)}/0001-{d(2)}",
        "MX": lambda: f"{''.join(r.choice('ABCDEFGHJKLMNPRSTUVWXYZ') for _ in range(3))}{d(6)}{r.choice('ABC')}{d(2)}",
        "AR": lambda: f"30-{d(8)}-{d(1)}", "CL": lambda: f"76.{d(3)}.{d(3)}-{d(1)}",
    }
    return formats[country]()
