"""Seed a Tryton 8.2 database for the Isthmus demo (run with Tryton's venv, server stopped).

    <tryton venv>/bin/python seed_tryton.py --config trytond.conf --database demo \
        --spec spec.json --out seed_ids.json

Runs trytond in-process through proteus (every call commits). The spec (see `spec.py`)
names the customers, products and BOMs; this script adds the company, accounting,
warehouses, stock and the transactions, all relative to today:

- customer 0: an order shipped and invoiced 45 days ago on Net 30, so overdue, with the
  CLM contract number as its reference; plus a quotation;
- customer 1: a confirmed order invoiced on shipment, to ship in 5 days, over a low credit
  limit (credit used = its uninvoiced amount);
- customer 2: an order invoiced and paid in full, shipment waiting (planned today);
- customer 3: a posted invoice of its own (no order), not yet due;
- customer 4: an order invoiced 10 days ago, half paid;
- customer 5: a cancelled order;
- customer 6: a confirmed order from the second warehouse, to ship in 10 days, invoice in draft;
- stock in both warehouses, a purchase arriving in 14 days (and a line without a date),
  a purchase arriving in 3 days in the second warehouse, and a production of the
  sub-assembly planned in 7 days (consumes its components, outputs the sub-assembly);
- what finance sees first (`finance`): customer 7 an invoice and a credit note against it;
  customer 8 an invoice in two instalments (30 % due 2 days ago, 70 % in 28 days) paid in
  part twice; customer 9 a payment received that no invoice matches (unapplied); customer 10
  an opening balance carried over 40 days ago (past due); customer 12 an invoice in USD;
- customer 11: a confirmed order shipping in 20 days of the SKU the 14-day purchase brings in,
  more than that receipt: planned demand that consumes stock after a receipt.

Writes the ids it created (parties, products, sales, invoices, warehouses) to --out.
This file imports nothing from Isthmus: it runs in another interpreter.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from proteus import Model, Wizard
from proteus import config as proteus_config

UOM_NAMES = {"EA": "Unit", "KG": "Kilogram", "M": "Meter", "L": "Liter"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    spec = json.load(open(args.spec))
    config = proteus_config.set_trytond(args.database, config_file=args.config)
    config.skip_warning = True
    ids = Seed(config, spec).run()
    with open(args.out, "w") as out:
        json.dump(ids, out, indent=1, sort_keys=True)


class Seed:
    def __init__(self, config, spec: dict) -> None:
        self.config = config
        self.spec = spec
        self.today = dt.date.today()
        self.ids: dict = {"today": self.today.isoformat()}

    def run(self) -> dict:
        started = time.perf_counter()
        for step in (self.company, self.accounting, self.warehouses, self.parties, self.products, self.boms,
                     self.stock, self.purchases, self.production, self.sales, self.finance, self.later_demand):
            begun = time.perf_counter()
            step()
            print(f"seed {step.__name__}: {time.perf_counter() - begun:.1f} s", file=sys.stderr, flush=True)
        print(f"seed total: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
        return self.ids

    # --- company and accounting -------------------------------------------------------------

    def company(self) -> None:
        Currency = Model.get("currency.currency")
        Rate = Model.get("currency.currency.rate")
        Country = Model.get("country.country")
        Party = Model.get("party.party")
        User = Model.get("res.user")
        Employee = Model.get("company.employee")
        code = self.spec["currency"]
        currency = Currency(name={"EUR": "Euro", "USD": "U.S. Dollar"}.get(code, code), code=code,
                            symbol={"EUR": "€", "USD": "$"}.get(code, code), rounding=Decimal("0.01"))
        currency.save()
        Rate(date=dt.date(2000, 1, 1), rate=Decimal(1), currency=currency).save()
        self.currency = currency
        # A foreign currency for one invoice: 1 EUR = 1.08 USD.
        self.foreign_currency = Currency(name="U.S. Dollar", code="USD", symbol="$", rounding=Decimal("0.01"))
        self.foreign_currency.save()
        Rate(date=dt.date(2000, 1, 1), rate=Decimal("1.08"), currency=self.foreign_currency).save()
        # The country module ships no countries without network access: create the one we need.
        self.country = Country(name="Germany", code="DE")
        self.country.save()
        party = Party(name=self.spec["company"])
        party.addresses[0].city = "Frankfurt am Main"
        party.addresses[0].country = self.country
        party.save()
        wizard = Wizard("company.company.config")
        wizard.execute("company")
        wizard.form.party = party
        wizard.form.currency = currency
        wizard.execute("add")
        # Without reloading the preferences the context has no company.
        self.config._context = User.get_preferences(True, {})
        Company = Model.get("company.company")
        (self.company_record,) = Company.find()
        employee_party = Party(name="Demo Administrator")
        employee_party.save()
        employee = Employee(party=employee_party, company=self.company_record)
        employee.save()
        admin = User(self.config.user)
        admin.employees.append(employee)
        admin.employee = employee
        admin.save()
        self.config._context = User.get_preferences(True, {})
        self.ids["company"] = self.company_record.id

    def accounting(self) -> None:
        AccountTemplate = Model.get("account.account.template")
        Account = Model.get("account.account")
        ModelData = Model.get("ir.model.data")
        FiscalYear = Model.get("account.fiscalyear")
        SequenceStrict = Model.get("ir.sequence.strict")
        SequenceType = Model.get("ir.sequence.type")
        Tax = Model.get("account.tax")
        PaymentTerm = Model.get("account.invoice.payment_term")
        Journal = Model.get("account.journal")
        PaymentMethod = Model.get("account.invoice.payment.method")
        company = self.company_record

        chart = Wizard("account.create_chart")
        chart.execute("account")
        chart.form.account_template = AccountTemplate(
            ModelData.get_id("account.account_template_root_en", self.config.context))
        chart.form.company = company
        chart.execute("create_account")

        def first(domain):
            found = Account.find([("company", "=", company.id), ("closed", "!=", True), *domain], limit=1)
            return found[0]

        self.accounts = {kind: first([(f"type.{kind}", "=", True)])
                         for kind in ("receivable", "payable", "revenue", "expense")}
        self.accounts["cash"] = first([("code", "=", "1.1.1")])
        self.accounts["tax"] = first([("code", "=", "6.3.6")])
        chart.form.account_receivable = self.accounts["receivable"]
        chart.form.account_payable = self.accounts["payable"]
        chart.form.category_account_revenue = self.accounts["revenue"]
        chart.form.category_account_expense = self.accounts["expense"]
        chart.execute("create_properties")

        year = FiscalYear(name=str(self.today.year), company=company)
        year.start_date = self.today - relativedelta(months=6, day=1)
        year.end_date = self.today + relativedelta(months=5, day=31)
        (move_type,) = SequenceType.find([("name", "=", "Account Move")], limit=1)
        year.move_sequence = SequenceStrict(name=year.name, sequence_type=move_type, company=company)
        year.move_sequence.save()
        (invoice_type,) = SequenceType.find([("name", "=", "Invoice")], limit=1)
        invoice_sequence = SequenceStrict(name=year.name, sequence_type=invoice_type, company=company)
        invoice_sequence.save()
        (sequences,) = year.invoice_sequences
        sequences.out_invoice_sequence = invoice_sequence
        sequences.in_invoice_sequence = invoice_sequence
        sequences.out_credit_note_sequence = invoice_sequence
        sequences.in_credit_note_sequence = invoice_sequence
        year.save()
        year.click("create_period")

        tax = Tax(name="VAT 19%", description="VAT 19%", type="percentage", rate=Decimal("0.19"))
        tax.invoice_account = self.accounts["tax"]
        tax.credit_note_account = self.accounts["tax"]
        tax.save()
        self.tax = tax

        net30 = PaymentTerm(name="Net 30")
        line = net30.lines.new(type="remainder")
        line.relativedeltas.new(days=30)
        net30.save()
        self.net30 = net30
        due = PaymentTerm(name="Due on receipt")
        due.lines.new(type="remainder")
        due.save()
        self.due_on_receipt = due

        instalments = PaymentTerm(name="30 % on receipt, rest in 30 days")
        instalments.lines.new(type="percent", ratio=Decimal("0.3"))
        rest = instalments.lines.new(type="remainder")
        rest.relativedeltas.new(days=30)
        instalments.save()
        self.instalments = instalments
        (self.general_journal,) = Journal.find([("type", "=", "general")], limit=1)

        (cash_journal,) = Journal.find([("type", "=", "cash")], limit=1)
        method = PaymentMethod(name="Bank transfer", journal=cash_journal)
        method.credit_account = self.accounts["cash"]
        method.debit_account = self.accounts["cash"]
        method.save()
        self.payment_method = method

    # --- stock locations ---------------------------------------------------------------------

    def warehouses(self) -> None:
        Location = Model.get("stock.location")
        (main,) = Location.find([("type", "=", "warehouse")])
        first, second = self.spec["warehouses"][:2]
        main.code, main.name = first["code"], first["name"]
        main.save()
        (production,) = Location.find([("type", "=", "production")], limit=1)
        (lost_found,) = Location.find([("type", "=", "lost_found")], limit=1)
        # A second warehouse needs its own zones, a production and a lost-and-found location.
        zones = {name: Location(name=f"{second['code']} {name}", type="storage") for name in ("Input", "Output", "Storage")}
        for zone in zones.values():
            zone.save()
        other = Location(name=second["name"], code=second["code"], type="warehouse")
        other.input_location = zones["Input"]
        other.output_location = zones["Output"]
        other.storage_location = zones["Storage"]
        other.production_location = production
        other.lost_found_location = lost_found
        other.save()
        self.warehouse = {first["code"]: main, second["code"]: other}
        self.storage = {first["code"]: main.storage_location, second["code"]: other.storage_location}
        (self.supplier_location,) = Location.find([("type", "=", "supplier")], limit=1)
        self.ids["warehouses"] = {code: location.id for code, location in self.warehouse.items()}

    # --- master data -------------------------------------------------------------------------

    def parties(self) -> None:
        Party = Model.get("party.party")
        # One plain `create` for all (proteus records would run every on_change, ~0.1 s each).
        values = [
            {
                "name": customer["name"],
                "code": customer["code"],
                "addresses": [("create", [{"country": self.country.id}])],
                "contact_mechanisms": [("create", [{"type": "email",
                                                    "value": f"accounts@{customer['code'].lower()}.example"}])],
                **({"credit_limit_amount": Decimal(customer["credit_limit"])}
                   if customer.get("credit_limit") is not None else {}),
            }
            for customer in self.spec["customers"]
        ]
        values.append({"name": "Rhein Industrial Supply KG", "code": "SUP-001", "addresses": [("create", [{}])]})
        ids = Party._proxy.create(values, self.config.context)
        parties = [Party(i) for i in ids[:-1]]
        self.supplier = Party(ids[-1])
        self.parties_by_code = {party.code: party for party in parties}
        self.customers = [self.parties_by_code[c["code"]] for c in self.spec["customers"]]
        self.ids["parties"] = {code: party.id for code, party in self.parties_by_code.items()}

    def products(self) -> None:
        Uom = Model.get("product.uom")
        Category = Model.get("product.category")
        Template = Model.get("product.template")
        Configuration = Model.get("product.configuration")
        configuration = Configuration(1)
        # No lead time means "shipping date unknown": moves would all be planned today.
        configuration.default_lead_time = dt.timedelta(0)
        configuration.save()
        category = Category(name="Goods", accounting=True)
        category.account_revenue = self.accounts["revenue"]
        category.account_expense = self.accounts["expense"]
        category.customer_taxes.append(self.tax)
        category.save()
        bom_parents = {bom["parent"] for bom in self.spec["boms"]}
        self.products_by_code = {}
        templates = []
        for spec in self.spec["products"]:
            (uom,) = Uom.find([("name", "=", UOM_NAMES.get(spec["uom"], "Unit"))], limit=1)
            template = Template(name=spec["name"], code=spec["code"], type="goods", default_uom=uom)
            template.account_category = category
            template.list_price = Decimal(spec["list_price"])
            template.salable = True
            template.purchasable = spec["code"] not in bom_parents
            template.producible = spec["code"] in bom_parents
            if template.purchasable:
                template.purchase_uom = uom
            (product,) = template.products
            product.cost_price = Decimal(spec["cost"])
            templates.append(template)
        Template.save(templates)
        for template in templates:
            (product,) = template.products
            self.products_by_code[template.code] = product
        self.ids["products"] = {code: product.id for code, product in self.products_by_code.items()}

    def boms(self) -> None:
        Bom = Model.get("production.bom")
        ProductBom = Model.get("product.product-production.bom")
        self.bom_by_parent = {}
        for spec in self.spec["boms"]:
            parent = self.products_by_code[spec["parent"]]
            bom = Bom(name=parent.template.name)
            for component, quantity in spec["components"]:
                line = bom.inputs.new()
                line.product = self.products_by_code[component]
                line.quantity = float(quantity)
            output = bom.outputs.new()
            output.product = parent
            output.quantity = 1
            bom.save()
            parent.boms.append(ProductBom(bom=bom))
            parent.save()
            self.bom_by_parent[spec["parent"]] = bom
        self.ids["boms"] = {code: bom.id for code, bom in self.bom_by_parent.items()}

    # --- stock -------------------------------------------------------------------------------

    def stock(self) -> None:
        Inventory = Model.get("stock.inventory")
        Move = Model.get("stock.move")
        codes = list(self.products_by_code)
        first, second = (w["code"] for w in self.spec["warehouses"][:2])
        # On hand: every product in the first warehouse, every other one in the second.
        levels = {first: {}, second: {}}
        for index, code in enumerate(codes):
            levels[first][code] = 2 if self.products_by_code[code].template.producible else 60 + 40 * (index % 5)
            if index % 2 == 0:
                levels[second][code] = 1 if self.products_by_code[code].template.producible else 25 + 10 * index
        inventories = []
        for warehouse, quantities in levels.items():
            inventory = Inventory(location=self.storage[warehouse])
            for code, quantity in quantities.items():
                line = inventory.lines.new()
                line.product = self.products_by_code[code]
                line.quantity = quantity
            inventories.append(inventory)
        Inventory.save(inventories)
        Inventory.click(inventories, "confirm")
        # A receipt from a supplier ten days ago, done.
        product = self.products_by_code[codes[0]]
        move = Move(product=product, quantity=40, from_location=self.supplier_location,
                    to_location=self.storage[first], unit=product.default_uom)
        move.planned_date = move.effective_date = self.today - dt.timedelta(days=10)
        move.unit_price = product.cost_price
        move.currency = self.currency
        move.company = self.company_record
        move.save()
        move.click("do")

    def purchases(self) -> None:
        Purchase = Model.get("purchase.purchase")
        first, second = (w["code"] for w in self.spec["warehouses"][:2])
        bought = [code for code, p in self.products_by_code.items() if p.template.purchasable]
        purchases = []
        for warehouse, lines in (
            (first, [(bought[3], 30, 14), (bought[0], 100, None)]),
            (second, [(bought[4], 20, 3)]),
        ):
            purchase = Purchase(party=self.supplier)
            purchase.warehouse = self.warehouse[warehouse]
            purchase.payment_term = self.net30
            for code, quantity, days in lines:
                line = purchase.lines.new()
                line.product = self.products_by_code[code]
                line.quantity = quantity
                line.unit_price = self.products_by_code[code].cost_price
                # No date at all for the second line: Tryton's forecast leaves it out at any date.
                line.delivery_date_edit = True
                line.delivery_date_store = self.today + dt.timedelta(days=days) if days is not None else None
            purchases.append(purchase)
        Purchase.save(purchases)
        Purchase.click(purchases, "quote")
        Purchase.click(purchases, "confirm")
        self.ids["purchases"] = [purchase.id for purchase in purchases]

    def production(self) -> None:
        Production = Model.get("production")
        first = self.spec["warehouses"][0]["code"]
        # The deepest BOM parent whose components are all bought: a sub-assembly.
        sub = next(spec["parent"] for spec in reversed(self.spec["boms"])
                   if all(c not in self.bom_by_parent for c, _ in spec["components"]))
        production = Production()
        production.warehouse = self.warehouse[first]
        production.planned_date = self.today + dt.timedelta(days=7)
        production.product = self.products_by_code[sub]
        production.bom = self.bom_by_parent[sub]
        production.quantity = 10
        production.save()
        production.click("wait")
        self.ids["production"] = {"id": production.id, "product": sub}

    # --- sales and invoices ------------------------------------------------------------------

    def sale(self, party, lines, *, warehouse=None, reference=None, invoice_method="order",
             shipping_days=None, sale_days=0):
        """The values of a sale (created in one plain `create` with the others: no on_change round trips)."""
        address = party.addresses[0].id
        values = {
            "party": party.id, "invoice_address": address, "shipment_address": address,
            "company": self.company_record.id, "currency": self.currency.id,
            "warehouse": self.warehouse[warehouse or self.spec["warehouses"][0]["code"]].id,
            "sale_date": self.today - dt.timedelta(days=sale_days), "payment_term": self.net30.id,
            "invoice_method": invoice_method, "shipment_method": "order",
            "lines": [("create", [
                {"type": "line", "sequence": index, "product": self.products_by_code[code].id,
                 "quantity": float(quantity), "unit": self.products_by_code[code].default_uom.id,
                 "unit_price": self.products_by_code[code].template.list_price, "taxes": [("add", [self.tax.id])]}
                for index, (code, quantity) in enumerate(lines, 1)
            ])],
        }
        if reference:
            values["reference"] = reference
        if shipping_days is not None:
            values["shipping_date"] = self.today + dt.timedelta(days=shipping_days)
        return values

    def ship(self, sale) -> None:
        for shipment in sale.shipments:
            shipment.click("assign_try")
            shipment.click("pick")
            shipment.click("pack")
            shipment.click("do")

    def pay(self, invoice, amount, days_ago: int = 0) -> None:
        pay = invoice.click("pay")
        pay.form.payment_method = self.payment_method
        pay.form.amount = amount
        pay.form.date = self.today - dt.timedelta(days=days_ago)
        pay.execute("choice")
        if pay.state != "end":  # less than the amount to pay: a partial payment, the rest stays open
            pay.form.type = "partial"
            pay.execute("pay")

    def sales(self) -> None:
        Sale = Model.get("sale.sale")
        Invoice = Model.get("account.invoice")
        c = self.customers
        goods = [code for code, p in self.products_by_code.items() if p.template.purchasable]
        made = [code for code, p in self.products_by_code.items() if p.template.producible]
        second = self.spec["warehouses"][1]["code"]
        contract = self.spec.get("contract")
        customer0 = c[0]
        # Saved, quoted and confirmed together (one transaction per step).
        sales = {
            # shipped, invoiced 45 days ago on Net 30: overdue
            "overdue": self.sale(customer0, [(goods[3], 20), (made[0], 1)],
                                 reference=contract and contract["number"], sale_days=50),
            # a quotation
            "quotation": self.sale(customer0, [(goods[0], 500)], sale_days=1),
            # confirmed, invoiced on shipment, shipping in 5 days, over a low credit limit
            "uninvoiced": self.sale(c[1], [(goods[3], 10), (goods[4], 5)], invoice_method="fulfillment",
                                    shipping_days=5, sale_days=2),
            # invoiced and paid in full; the shipment waits (planned today)
            "paid": self.sale(c[2], [(goods[1], 1000)], sale_days=3),
            # invoiced 10 days ago, half paid
            "partly_paid": self.sale(c[4], [(goods[5], 50)], sale_days=12),
            # cancelled
            "cancelled": self.sale(c[5], [(goods[2], 10)], sale_days=4),
            # from the second warehouse, shipping in 10 days, its invoice still a draft
            "second_warehouse": self.sale(c[6], [(goods[4], 8)], warehouse=second, shipping_days=10, sale_days=1),
        }
        ids = Sale._proxy.create(list(sales.values()), self.config.context)
        sales = {name: Sale(id_) for name, id_ in zip(sales, ids)}
        confirm = [sale for name, sale in sales.items() if name not in ("quotation", "cancelled")]
        Sale.click(confirm + [sales["quotation"]], "quote")
        Sale.click(confirm, "confirm")
        Sale.click([sales["cancelled"]], "cancel")
        for sale in sales.values():
            sale.reload()
        self.ship(sales["overdue"])
        sales["overdue"].reload()

        # a posted invoice of its own (no order), not yet due
        standalone = Invoice(type="out", party=c[3], payment_term=self.net30)
        line = standalone.lines.new()
        line.product = self.products_by_code[goods[8]]
        line.quantity = 12
        line.unit_price = self.products_by_code[goods[8]].template.list_price
        standalone.save()

        invoice_of = {name: sales[name].invoices[0] for name in ("overdue", "paid", "partly_paid")}
        invoice_of["standalone"] = standalone
        for name, days in (("overdue", 45), ("partly_paid", 10), ("standalone", 5), ("paid", 3)):
            invoice_of[name].invoice_date = self.today - dt.timedelta(days=days)
        Invoice.save(list(invoice_of.values()))
        Invoice.click(list(invoice_of.values()), "post")  # numbered in date order
        for name, share in (("partly_paid", Decimal("0.5")), ("paid", Decimal(1))):
            invoice = invoice_of[name]
            invoice.reload()
            self.pay(invoice, (invoice.total_amount * share).quantize(Decimal("0.01")))
        # Lowered after confirming, so the confirmation itself is not refused.
        c[1].reload()
        c[1].credit_limit_amount = Decimal(500)
        c[1].save()
        self.ids["sales"] = {name: sale.id for name, sale in sales.items()}
        self.ids["invoices"] = {name: invoice.id for name, invoice in invoice_of.items()}

    def invoice(self, party, code, quantity, days_ago, payment_term=None, currency=None):
        Invoice = Model.get("account.invoice")
        invoice = Invoice(type="out", party=party, payment_term=payment_term or self.net30)
        if currency is not None:
            invoice.currency = currency
        line = invoice.lines.new()
        line.product = self.products_by_code[code]
        line.quantity = quantity
        line.unit_price = self.products_by_code[code].template.list_price
        invoice.invoice_date = self.today - dt.timedelta(days=days_ago)
        return invoice

    def receivable_move(self, party, amount, counterpart, days_ago, description, maturity: bool):
        """A posted move on the party's receivable without an invoice: + a debit, - a credit."""
        Move = Model.get("account.move")
        move = Move(journal=self.general_journal, date=self.today - dt.timedelta(days=days_ago),
                    description=description)
        receivable = move.lines.new(account=self.accounts["receivable"], party=party)
        other = move.lines.new(account=counterpart)
        if amount > 0:
            receivable.debit, other.credit = amount, amount
        else:
            receivable.credit, other.debit = -amount, -amount
        if maturity:
            receivable.maturity_date = move.date
        move.save()
        move.click("post")
        return move

    def finance(self) -> None:
        """Credit note, instalments paid in part, an unapplied payment, an opening balance."""
        Invoice = Model.get("account.invoice")
        c = self.customers
        goods = [code for code, p in self.products_by_code.items() if p.template.purchasable]
        invoices = {
            # Dated after the sales' invoices: the invoice sequence is strict, in date order.
            "credited": self.invoice(c[7], goods[6], 10, 2),
            "credit_note": self.invoice(c[7], goods[6], -4, 1),
            "instalments": self.invoice(c[8], goods[7], 30, 2, payment_term=self.instalments),
            "foreign_currency": self.invoice(c[12], goods[8], 40, 1, currency=self.foreign_currency),
        }
        Invoice.save(list(invoices.values()))
        Invoice.click(list(invoices.values()), "post")
        instalments = invoices["instalments"]
        instalments.reload()
        tenth = (instalments.total_amount / 10).quantize(Decimal("0.01"))
        self.pay(instalments, tenth, days_ago=2)
        self.pay(instalments, tenth, days_ago=1)
        unapplied = self.receivable_move(c[9], Decimal("-300.00"), self.accounts["cash"], 6,
                                         "Payment received, no invoice matched", maturity=False)
        opening = self.receivable_move(c[10], Decimal("1250.00"), self.accounts["revenue"], 40,
                                       "Opening balance carried over", maturity=True)
        self.ids["invoices"].update({name: invoice.id for name, invoice in invoices.items()})
        self.ids["moves"] = {"unapplied_payment": unapplied.id, "opening_balance": opening.id}

    def later_demand(self) -> None:
        """A confirmed sale after the 14-day receipt of its SKU, for more than the receipt brings."""
        Sale = Model.get("sale.sale")
        bought = [code for code, p in self.products_by_code.items() if p.template.purchasable]
        sku = bought[3]  # the first purchase's dated line: 30 units in 14 days
        (sale_id,) = Sale._proxy.create([self.sale(self.customers[11], [(sku, 40)], shipping_days=20)],
                                        self.config.context)
        sale = Sale(sale_id)
        Sale.click([sale], "quote")
        Sale.click([sale], "confirm")
        self.ids["sales"]["later_demand"] = sale.id


if __name__ == "__main__":
    main()
