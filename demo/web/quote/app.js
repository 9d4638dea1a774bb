// Quote screen: pick a customer, add lines (SKU look-up), and see availability, promise dates,
// margin where the role may see it, the credit check and the approvals needed, priced again
// as lines change. Trusted documents CustomerSearch, ProductLookup and QuoteScreen (persisted/).

import { Graph, SYSTEMS } from "../shared/graph.js";
import { signIn } from "../shared/session.js";
import { banner, date, freshness, h, money, percent, quantity, shown } from "../shared/ui.js";

const view = document.getElementById("view");
const bannerElement = document.getElementById("banner");
const params = new URLSearchParams(window.location.search);

const person = await signIn(document.getElementById("session"), "sales_rep");
const graph = new Graph(person.token, new URL("../../", window.location.href).pathname);

const state = { customer: params.get("customer"), lines: [] };
let asked = 0; // the latest evaluation asked for: older answers arriving late are dropped

// ---------------------------------------------------------------------------
// Customer
// ---------------------------------------------------------------------------

const chosen = h("p", { id: "customer", "data-field": "customer" }, state.customer ?? "No customer chosen.");
const matches = h("ul", { id: "matches", class: "plain" });
const search = h("input", { type: "search", id: "customer-search", placeholder: "Find a customer by name or id" });
const customerCard = h("section", { class: "card" }, h("h2", {}, "Customer"),
  h("form", { class: "toolbar", onsubmit: (event) => { event.preventDefault(); findCustomers(); } },
    search, h("button", { type: "submit" }, "Find")),
  matches, chosen);

async function findCustomers() {
  const answer = await graph.run("CustomerSearch", { search: search.value || null, first: 8 });
  banner(answer, bannerElement);
  const edges = answer.data?.customers?.edges ?? [];
  matches.replaceChildren(...edges.map(({ node }) => h("li", {},
    h("button", { type: "button", "data-customer": node.id, onclick: () => choose(node) }, `${node.name} (${node.id})`),
    " ", h("span", { class: "muted" }, `${node.tier ?? ""} · ${node.owner?.name ?? ""}`))));
  if (!edges.length) matches.replaceChildren(h("li", { class: "muted" }, "No customer you may quote for matches."));
}

function choose(node) {
  state.customer = node.id;
  chosen.textContent = `${node.name} (${node.id})`;
  matches.replaceChildren();
  const url = new URL(window.location.href);
  url.searchParams.set("customer", node.id);
  history.replaceState(null, "", url);
  evaluateSoon();
}

// ---------------------------------------------------------------------------
// Lines
// ---------------------------------------------------------------------------

const linesBody = h("tbody", { id: "lines" });
const linesCard = h("section", { class: "card" }, h("h2", {}, "Lines"),
  h("table", {},
    h("thead", {}, h("tr", {}, ["SKU", "Product", "Quantity", "Unit price", "Wanted by", "Amount", "Available", "Promise date", "Unit cost", "Margin", ""]
      .map((t) => h("th", {}, t)))),
    linesBody),
  h("div", { class: "toolbar" }, h("button", { type: "button", id: "add-line", onclick: () => addLine() }, "Add line")));

function addLine() {
  const line = { sku: "", quantity: "1", unitPrice: "", requestedDate: "", cells: {} };
  const input = (field, attributes) => h("input", {
    ...attributes, value: line[field], "data-input": field,
    onchange: (event) => { line[field] = event.target.value.trim(); if (field === "sku") lookUp(line); else evaluateSoon(); },
  });
  for (const name of ["product", "amount", "available", "promise", "unitCost", "margin"]) line.cells[name] = h("td", { "data-field": name });
  line.row = h("tr", { class: "line" },
    h("td", {}, input("sku", { size: 10, placeholder: "SKU-0001" })),
    line.cells.product,
    h("td", {}, input("quantity", { size: 6, inputmode: "decimal" })),
    h("td", {}, line.priceInput = input("unitPrice", { size: 9, inputmode: "decimal" })),
    h("td", {}, input("requestedDate", { type: "date" })),
    line.cells.amount, line.cells.available, line.cells.promise, line.cells.unitCost, line.cells.margin,
    h("td", {}, h("button", { type: "button", title: "Remove the line", onclick: () => removeLine(line) }, "×")));
  state.lines.push(line);
  linesBody.append(line.row);
  line.row.querySelector("input").focus();
}

function removeLine(line) {
  state.lines.splice(state.lines.indexOf(line), 1);
  line.row.remove();
  evaluateSoon();
}

async function lookUp(line) {
  line.product = null;
  line.cells.product.replaceChildren(h("span", { class: "muted" }, "looking up…"));
  const answer = await graph.run("ProductLookup", { sku: line.sku });
  const product = answer.data?.product;
  if (!product) {
    const problem = answer.problem(["product"]);
    line.cells.product.replaceChildren(h("span", { class: "missing" }, problem?.down ? `unavailable (${problem.down} down)` : "unknown SKU"));
  } else {
    line.product = product;
    line.cells.product.replaceChildren(`${product.name}${product.uom ? ` (${product.uom})` : ""}`);
    if (!line.unitPrice && product.listPrice != null) line.priceInput.value = line.unitPrice = product.listPrice;
  }
  evaluateSoon();
}

// ---------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------

const totals = h("dl", { class: "figures", id: "totals" });
const credit = h("dl", { class: "figures", id: "credit" });
const approval = h("div", { id: "approval" });
const fresh = h("div", {});
const placeOrder = h("button", { type: "button", id: "place-order", disabled: true }, "Place order");

let timer = null;
function evaluateSoon() {
  clearTimeout(timer);
  timer = setTimeout(evaluate, 250);
}

async function evaluate() {
  const lines = state.lines.filter((l) => l.product && Number(l.quantity) > 0 && Number(l.unitPrice) > 0);
  if (!state.customer || !lines.length) return;
  const number = ++asked;
  const input = {
    customerId: state.customer,
    lines: lines.map((l) => ({ sku: l.sku, quantity: l.quantity, unitPrice: String(l.unitPrice), requestedDate: l.requestedDate || null })),
  };
  const answer = await graph.run("QuoteScreen", { input });
  if (number !== asked) return;
  banner(answer, bannerElement);
  const quote = answer.data?.quote;
  if (!quote) {
    const messages = answer.errors.map((e) => e.message).join(" ");
    totals.replaceChildren(h("dd", { class: "missing" }, messages));
    return;
  }
  chosen.textContent = quote.customer ? `${quote.customer.name} (${quote.customer.id}) · ${quote.customer.tier ?? ""} · risk ${quote.customer.risk ?? "—"}` : state.customer;
  for (const line of state.lines) for (const cell of Object.values(line.cells).slice(1)) cell.replaceChildren();
  quote.lines.forEach((result, i) => {
    const cells = lines[i].cells;
    const at = (...path) => ["quote", "lines", i, ...path];
    cells.amount.replaceChildren(money(result.amount));
    cells.available.replaceChildren(shown(answer, at("availability"), result.availability?.available, quantity));
    cells.promise.replaceChildren(result.availability
      ? (result.availability.canPromise ? date(result.availability.promiseDate) : h("span", { class: "missing" }, date(result.availability.promiseDate) || "cannot promise"))
      : shown(answer, at("availability"), null));
    cells.unitCost.replaceChildren(shown(answer, at("unitCost"), result.unitCost, money));
    cells.margin.replaceChildren(shown(answer, at("marginPct"), result.marginPct, percent));
  });
  const row = (label, field, node) => [h("dt", {}, label), h("dd", { "data-field": field }, node)];
  const q = (field, format = money) => shown(answer, ["quote", field], quote[field], format);
  totals.replaceChildren(
    ...row("Total (net)", "total", q("total")),
    ...row("Tax", "totalTax", q("totalTax")),
    ...row("Total (gross)", "totalGross", q("totalGross")),
    ...row("Cost", "cost", q("cost")),
    ...row("Margin", "margin", q("margin")),
    ...row("Margin %", "marginPct", q("marginPct", percent)),
    ...row("Complete by", "earliestCompleteDate", quote.earliestCompleteDate ? date(quote.earliestCompleteDate)
      : h("span", { class: "missing" }, "a line cannot be promised")),
  );
  const c = quote.credit;
  credit.replaceChildren(...(c ? [
    ...row("Credit limit", "creditLimit", money(c.creditLimit)),
    ...row("Used", "creditUsed", money(c.creditUsed)),
    ...row("This quote", "quoteAmount", `${money(c.quoteAmount)} (${c.basis ?? ""})`),
    ...row("Exceeded by", "exceededBy", money(c.exceededBy)),
    ...row("Check", "creditOk", h("span", { class: `badge ${c.ok ? "good" : "bad"}` }, c.ok ? "within the limit" : "over the limit")),
  ] : row("Credit", "credit", shown(answer, ["quote", "credit"], null))));
  const a = quote.approval;
  approval.replaceChildren(
    h("p", { "data-field": "approvalRequired" }, a.required
      ? h("span", { class: "badge warn" }, `Approval needed: ${a.level ?? "unknown level"}`)
      : h("span", { class: "badge good" }, "No approval needed")),
    h("ul", { "data-field": "approvalReasons" }, a.reasons.map((reason) => h("li", {}, reason))),
  );
  fresh.replaceChildren(freshness(answer, SYSTEMS));
}

view.replaceChildren(
  customerCard,
  linesCard,
  h("div", { class: "grid" },
    h("section", { class: "card" }, h("h2", {}, "Totals"), totals),
    h("section", { class: "card" }, h("h2", {}, "Credit check"), credit),
    h("section", { class: "card" }, h("h2", {}, "Approvals"), approval)),
  fresh,
  h("section", { class: "card" }, placeOrder, " ",
    h("span", { class: "notice", id: "place-order-note" },
      "Placing the order needs the gateway's mutations, which do not exist yet; until then a quote is priced here and entered in the ERP.")),
);
addLine();
