// Quote screen: pick a customer, add lines (SKU look-up), and see availability, promise dates,
// margin where the role may see it, the credit check and the approvals needed, priced again
// as lines change; then place the order, and (?order=<id>) approve one that waits for approval.
// Trusted documents CustomerSearch, ProductLookup, QuoteScreen, MyPermissions, PlaceOrder,
// OrderToApprove and ApproveOrder (persisted/).

import { Graph, SYSTEMS } from "../shared/graph.js";
import { signIn } from "../shared/session.js";
import { banner, date, freshness, h, money, percent, quantity, shown } from "../shared/ui.js";
import { Attempt, explain } from "../shared/writes.js";

const view = document.getElementById("view");
const bannerElement = document.getElementById("banner");
const params = new URLSearchParams(window.location.search);

const person = await signIn(document.getElementById("session"), "sales_rep");
const graph = new Graph(person.token, new URL("../../", window.location.href).pathname);

const allowed = new Set((await graph.run("MyPermissions")).data?.me?.allowedMutations ?? []);
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

let timer = null;
function evaluateSoon() {
  priced = null; // until the quote on screen is priced again, there is nothing to place
  canPlace();
  clearTimeout(timer);
  timer = setTimeout(evaluate, 250);
}

/** The lines ready to price (a known product, a quantity and a price), and the quote's input; null input if none. */
function quoteInput() {
  const lines = state.lines.filter((l) => l.product && Number(l.quantity) > 0 && Number(l.unitPrice) > 0);
  if (!state.customer || !lines.length) return { lines, input: null };
  return { lines, input: {
    customerId: state.customer,
    lines: lines.map((l) => ({ sku: l.sku, quantity: l.quantity, unitPrice: String(l.unitPrice), requestedDate: l.requestedDate || null })),
  } };
}

async function evaluate() {
  const { lines, input } = quoteInput();
  priced = null;
  canPlace();
  if (!input) return;
  const number = ++asked;
  const answer = await graph.run("QuoteScreen", { input });
  if (number !== asked) return;
  banner(answer, bannerElement);
  const quote = answer.data?.quote;
  if (!quote) {
    const messages = answer.errors.map((e) => e.message).join(" ");
    totals.replaceChildren(h("dd", { class: "missing" }, messages));
    return;
  }
  priced = input;
  canPlace();
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

// ---------------------------------------------------------------------------
// Placing the order, and approving one (?order=<id>)
// ---------------------------------------------------------------------------

let priced = null; // the input of the quote on screen, once priced: what "Place order" sends
let attempt = null; // the current attempt; every retry of it sends its key again
let sending = false;
const placeButton = h("button", { type: "button", id: "place-order", onclick: () => place() }, "Place order");
const placeNote = h("span", { class: "notice", id: "place-order-note" });
const outcome = h("div", { id: "placement" });
const orderCard = h("section", { class: "card" }, h("h2", {}, "Order"), h("div", { class: "toolbar" }, placeButton, placeNote), outcome);

function canPlace() {
  let reason = null;
  if (!allowed.has("placeOrder")) reason = `Your role (${person.role}) may not place orders: sellers and finance place them.`;
  else if (sending) reason = "Placing the order…";
  else if (!priced) reason = "Price a quote first: a customer and at least one line.";
  else if (attempt?.written && attempt.isFor({ input: priced })) reason = "This quote is placed; change it to place another order.";
  placeButton.disabled = reason !== null;
  placeNote.textContent = reason ?? "The gateway prices the quote again as it places it.";
}

async function place() {
  if (sending || !priced) return;
  const variables = { input: priced };
  if (!attempt || attempt.settled || !attempt.isFor(variables)) attempt = new Attempt(graph, "PlaceOrder", variables);
  await send(attempt, "placeOrder", outcome, () => { sending = !sending; canPlace(); });
}

/** Send an attempt (first time or retry: the same key) and show what it came to in `into`. */
async function send(current, field, into, toggle) {
  toggle();
  into.replaceChildren(h("p", { class: "muted" }, "Sending…"));
  const result = await current.send();
  try {
    report(current, result, field, into, toggle);
  } finally {
    toggle(); // after the outcome is recorded: the button says what it now allows
  }
}

function report(current, { answer, refused, lost }, field, into, toggle) {
  const retry = () => h("button", { type: "button", id: "retry", onclick: () => send(current, field, into, toggle) }, "Retry with the same key");
  const key = h("p", { class: "muted", "data-field": "key" }, `Idempotency key of this attempt: ${current.key}`);
  const show = (state, ...children) => {
    into.dataset.state = state;
    into.replaceChildren(...children.filter(Boolean));
  };
  if (lost !== undefined) {
    return show("unknown", h("p", { class: "missing", "data-field": "outcome" }, `No answer (${lost}): it may or may not have been written. `
      + "Retry with the same key: the retry settles it, and never makes a second one."), retry(), key);
  }
  if (refused !== undefined) {
    current.settled = true;
    return show("refused", h("p", { class: "missing", "data-field": "outcome" }, `Refused: ${refused} Nothing was written.`));
  }
  banner(answer, bannerElement);
  const placement = answer.data?.[field];
  if (!placement) {
    const error = answer.errors[0] ?? {};
    const said = explain(error);
    current.settled = !said.retry;
    markFields(said.fields ?? []);
    return show(error.extensions?.code ?? "error",
      h("p", { class: "missing", "data-field": "outcome", "data-code": error.extensions?.code ?? "" }, said.text),
      said.retry ? retry() : null, said.retry ? key : null);
  }
  current.settled = current.written = placement.status !== "INCOMPLETE";
  show(placement.status, ...placementView(placement), placement.status === "INCOMPLETE" ? retry() : null, key);
}

/** Outline the inputs a BAD_USER_INPUT names (line i's quantity, ...). */
function markFields(fields) {
  for (const input of linesBody.querySelectorAll("input")) input.classList.remove("invalid");
  const { lines } = quoteInput();
  for (const path of fields) {
    const found = /lines\[(\d+)\]\.(\w+)$/.exec(path);
    const line = found && lines[Number(found[1])];
    line?.row.querySelector(`[data-input=${found[2]}]`)?.classList.add("invalid");
  }
}

const LEVEL_WORDS = { SALES_MANAGER: "a sales manager's", FINANCE: "finance's", EXECUTIVE: "an executive's" };

/** What placing or approving came to: placed, pending approval (with the approver's link), or incomplete steps. */
function placementView(placement) {
  const order = placement.order;
  const figures = order ? ` · ${money(order.totalGross, order.currency)} gross · promised ${date(order.promisedDate) || "—"}` : "";
  const number = h("strong", { "data-field": "orderNumber" }, order?.number ?? "");
  if (placement.status === "PLACED") {
    const approved = placement.approval?.status === "APPROVED" ? ` (approved by ${placement.approval.decidedBy})` : "";
    return [h("p", {}, h("span", { class: "badge good", "data-field": "status" }, "Order placed"),
      " ERP order ", number, figures, approved)];
  }
  if (placement.status === "PENDING_APPROVAL") {
    const a = placement.approval;
    const link = new URL(`?order=${encodeURIComponent(a.orderId)}`, window.location.href).href;
    return [
      h("p", {}, h("span", { class: "badge warn", "data-field": "status" }, "Pending approval"), " ERP order ", number,
        ` (a draft${figures}) waits for ${LEVEL_WORDS[a.level] ?? a.level} approval: approval `,
        h("strong", { "data-field": "approvalId" }, a.orderId), ", level ", h("strong", { "data-field": "approvalLevel" }, a.level), "."),
      h("ul", { "data-field": "pendingReasons" }, a.reasons.map((reason) => h("li", {}, reason))),
      h("p", {}, "The approver opens ", h("a", { href: link, id: "approval-link" }, link), "."),
    ];
  }
  const steps = h("table", { id: "steps" },
    h("thead", {}, h("tr", {}, ["Step", "System", "Done", "Reference", "Why not"].map((t) => h("th", {}, t)))),
    h("tbody", {}, placement.steps.map((step) => h("tr", { "data-step": step.name, "data-done": String(step.done) },
      h("td", {}, step.name), h("td", {}, step.system), h("td", {}, step.done ? "done" : "not done"),
      h("td", {}, step.reference ?? ""), h("td", {}, step.done ? "" : `${step.errorCode ?? ""} ${step.message ?? ""}`)))));
  return [
    h("p", {}, h("span", { class: "badge bad", "data-field": "status" }, "Incomplete"), " ERP order ", number,
      " stands in the ERP, but a later step failed. Retry with the same key: it does the missing steps only."),
    steps,
  ];
}

async function showOrderToApprove(orderId) {
  const answer = await graph.run("OrderToApprove", { id: orderId });
  banner(answer, bannerElement);
  const order = answer.data?.order;
  if (!order) {
    const problem = answer.problem(["order"]);
    view.replaceChildren(h("p", { id: "refused", class: "missing" }, problem?.down
      ? `Order ${orderId}: unavailable (${problem.down} down).` : `Order ${orderId} was not found, or is not visible to you.`));
    return;
  }
  const result = h("div", { id: "approval-outcome" });
  const button = h("button", { type: "button", id: "approve-order" }, "Approve");
  const note = h("span", { class: "notice", id: "approve-note" });
  let busy = false;
  let current = null;
  const toggle = () => { busy = !busy; button.disabled = busy || current?.written; };
  let reason = null;
  if (order.status !== "DRAFT") reason = `This order is ${order.status}: nothing waits for approval.`;
  else if (!allowed.has("approveOrder")) reason = `Your role (${person.role}) may not approve orders.`;
  button.disabled = reason !== null;
  note.textContent = reason ?? "Approving confirms the order in the ERP, if your role holds the approval's level.";
  button.addEventListener("click", () => {
    if (busy) return;
    if (!current || current.settled) current = new Attempt(graph, "ApproveOrder", { orderId: order.id });
    send(current, "approveOrder", result, toggle);
  });
  view.replaceChildren(h("section", { class: "card" },
    h("h2", {}, "Order ", h("span", { "data-field": "orderNumber" }, order.number), " for ",
      h("span", { "data-field": "customer" }, order.customer ? `${order.customer.name} (${order.customer.id})` : "—")),
    h("p", {}, h("span", { class: "badge", "data-field": "orderStatus" }, order.status),
      ` · ordered ${date(order.orderedAt)} · promised ${date(order.promisedDate) || "—"}`),
    h("table", {},
      h("thead", {}, h("tr", {}, ["SKU", "Product", "Quantity", "Unit price", "Amount"].map((t) => h("th", {}, t)))),
      h("tbody", {}, (order.lines ?? []).map((line) => h("tr", { "data-sku": line.sku },
        h("td", {}, line.sku), h("td", {}, line.product?.name ?? ""), h("td", { class: "num" }, quantity(line.quantity)),
        h("td", { class: "num" }, money(line.unitPrice)), h("td", { class: "num" }, money(line.amount)))))),
    h("dl", { class: "figures" },
      h("dt", {}, "Total (net)"), h("dd", { "data-field": "total" }, money(order.total, order.currency)),
      h("dt", {}, "Tax"), h("dd", {}, money(order.totalTax, order.currency)),
      h("dt", {}, "Total (gross)"), h("dd", {}, money(order.totalGross, order.currency))),
    h("div", { class: "toolbar" }, button, note), result));
}

if (params.get("order")) {
  await showOrderToApprove(params.get("order"));
} else {
  view.replaceChildren(
    customerCard,
    linesCard,
    h("div", { class: "grid" },
      h("section", { class: "card" }, h("h2", {}, "Totals"), totals),
      h("section", { class: "card" }, h("h2", {}, "Credit check"), credit),
      h("section", { class: "card" }, h("h2", {}, "Approvals"), approval)),
    fresh,
    orderCard,
  );
  addLine();
  canPlace();
}
