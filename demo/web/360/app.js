// Customer 360: search and page through the customers the caller sees; one customer across
// CRM, ERP, CLM and the desk. Trusted documents CustomerSearch and CustomerPage (persisted/).
// A system that is down is named in a banner and only its parts are missing; a field the
// role may not read says so in place.

import { Graph, SYSTEMS } from "../shared/graph.js";
import { signIn } from "../shared/session.js";
import { banner, date, freshness, h, money, percent, quantity, shown } from "../shared/ui.js";

const view = document.getElementById("view");
const bannerElement = document.getElementById("banner");
const params = new URLSearchParams(window.location.search);

const person = await signIn(document.getElementById("session"), "sales_rep");
const graph = new Graph(person.token, new URL("../../", window.location.href).pathname);

if (params.get("customer")) await showCustomer(params.get("customer"));
else await showSearch(params.get("q") ?? "", params.get("tier") ?? "");

// ---------------------------------------------------------------------------
// Search and paging
// ---------------------------------------------------------------------------

async function showSearch(search, tier) {
  const cursors = [null]; // the `after` of each page seen, to page back
  const input = h("input", { type: "search", id: "search", placeholder: "Name or id", value: search });
  const tiers = h(
    "select",
    { id: "tier" },
    h("option", { value: "" }, "every tier"),
    ["STRATEGIC", "KEY", "STANDARD", "SMALL"].map((t) => h("option", { value: t, selected: t === tier }, t)),
  );
  const results = h("div", { id: "results" });
  const form = h(
    "form",
    { class: "toolbar", onsubmit: (event) => { event.preventDefault(); cursors.length = 1; load(0); } },
    input, tiers, h("button", { type: "submit" }, "Search"),
  );
  view.replaceChildren(form, results);

  async function load(page) {
    const answer = await graph.run("CustomerSearch", {
      search: input.value || null, tier: tiers.value || null, first: 20, after: cursors[page],
    });
    banner(answer, bannerElement);
    const connection = answer.data?.customers;
    if (!connection) {
      results.replaceChildren(h("p", { class: "missing" }, answer.errors.map((e) => e.message).join(" ")));
      return;
    }
    cursors[page + 1] = connection.pageInfo.endCursor;
    const rows = connection.edges.map(({ node }, i) =>
      h("tr", { "data-customer": node.id },
        h("td", {}, h("a", { href: `?customer=${encodeURIComponent(node.id)}` }, node.name)),
        h("td", {}, node.id),
        h("td", {}, node.tier ?? ""),
        h("td", {}, node.region ?? ""),
        h("td", {}, node.industry ?? ""),
        h("td", {}, node.risk ? h("span", { class: `badge ${node.risk}` }, node.risk)
          : shown(answer, ["customers", "edges", i, "node", "risk"], null)),
        h("td", {}, node.owner?.name ?? "")),
    );
    results.replaceChildren(
      h("p", { class: "muted", id: "count" }, `${connection.totalCount} customers visible to you · page ${page + 1}`),
      h("table", {},
        h("thead", {}, h("tr", {}, ["Customer", "Id", "Tier", "Region", "Industry", "Risk", "Owner"].map((t) => h("th", {}, t)))),
        h("tbody", {}, rows)),
      h("div", { class: "toolbar" },
        h("button", { id: "previous", disabled: page === 0, onclick: () => load(page - 1) }, "Previous"),
        h("button", { id: "next", disabled: !connection.pageInfo.hasNextPage, onclick: () => load(page + 1) }, "Next")),
      freshness(answer, SYSTEMS),
    );
  }

  await load(0);
}

// ---------------------------------------------------------------------------
// One customer
// ---------------------------------------------------------------------------

async function showCustomer(id) {
  const answer = await graph.run("CustomerPage", { id });
  banner(answer, bannerElement);
  const c = answer.data?.customer;
  if (!c) {
    // Not found and not visible are the same answer by design: nothing hints whether it exists.
    const problem = answer.problem(["customer"]);
    const text = problem?.down ? `The CRM is not answering: ${problem.message}`
      : `Customer ${id} was not found, or is not visible to you.`;
    view.replaceChildren(h("p", { class: "missing", id: "refused" }, text), h("p", {}, h("a", { href: "./" }, "Back to the list")));
    return;
  }
  document.title = `${c.name} · Customer 360`;
  const at = (...path) => ["customer", ...path];
  view.replaceChildren(
    h("p", {}, h("a", { href: "./" }, "← Customers")),
    h("h2", { id: "name" }, c.name, " ", h("span", { class: "muted" }, c.id)),
    h("p", {},
      h("span", { class: "badge", "data-field": "tier" }, c.tier ?? "no tier"), " ",
      "Risk ", c.risk ? h("span", { class: `badge ${c.risk}`, "data-field": "risk" }, c.risk) : shown(answer, at("risk"), null), " · ",
      `Rating ${c.creditRating ?? "—"} · ${c.industry ?? ""} · ${c.region ?? ""} · Owner ${c.owner?.name ?? "—"}`,
      c.owner?.team ? ` (${c.owner.team})` : ""),
    freshness(answer, SYSTEMS),
    h("div", { class: "grid" }, credit(answer, c), alerts(answer, c), aging(answer, c)),
    orders(answer, c),
    h("div", { class: "grid" }, contracts(answer, c), tickets(answer, c)),
    h("div", { class: "grid" }, timeline(answer, c), contacts(answer, c)),
  );
}

function section(title, id, ...content) {
  return h("section", { class: "card", id }, h("h2", {}, title), ...content);
}

/** The section's content, or why it is missing (denied, a system down). */
function orWhy(answer, path, value, render) {
  return value != null ? render(value) : h("p", {}, shown(answer, path, null));
}

function credit(answer, c) {
  return section("Credit", "credit", orWhy(answer, ["customer", "receivables"], c.receivables, (r) => {
    const row = (label, field, value) => [h("dt", {}, label), h("dd", { "data-field": `receivables.${field}` }, money(value, r.currency))];
    return h("dl", { class: "figures" },
      row("Credit limit", "creditLimit", r.creditLimit),
      row("Credit used", "creditUsed", r.creditUsed),
      row("Credit available", "creditAvailable", r.creditAvailable),
      row("Open balance", "openBalance", r.openBalance),
      row("Overdue", "overdueBalance", r.overdueBalance),
      h("dt", {}, "Basis"), h("dd", {}, r.creditBasis ?? ""));
  }));
}

function alerts(answer, c) {
  const list = c.alerts ?? [];
  const problem = answer.problem(["customer", "alerts"]);
  return section("Alerts", "alerts",
    list.length ? h("ul", {}, list.map((a) => h("li", { class: `alert ${a.severity.toLowerCase()}` }, h("b", {}, a.source), " ", a.message)))
      : h("p", { class: "muted" }, "No alerts."),
    problem?.down ? h("p", { class: "missing" }, `Alerts from the ${problem.down} are missing (${problem.down} down).`) : null);
}

function aging(answer, c) {
  return section("Receivables aging", "aging", orWhy(answer, ["customer", "receivables"], c.receivables, (r) => {
    const buckets = [["Current", r.aging?.current], ["1–30", r.aging?.d1to30], ["31–60", r.aging?.d31to60],
      ["61–90", r.aging?.d61to90], ["> 90", r.aging?.over90]];
    const largest = Math.max(...buckets.map(([, v]) => Number(v ?? 0)), 1);
    return h("div", { class: "bars", role: "img", "aria-label": "Open receivables by days overdue" },
      buckets.map(([label, value], i) => [
        h("span", {}, label),
        h("div", {}, h("div", { class: `bar${i ? " overdue" : ""}`, style: { width: `${(100 * Number(value ?? 0)) / largest}%` } })),
        h("span", { class: "num" }, money(value, r.currency)),
      ]));
  }));
}

function orders(answer, c) {
  return section("Orders (newest 10)", "orders", orWhy(answer, ["customer", "orders"], c.orders, (list) => {
    if (!list.length) return h("p", { class: "muted" }, "No orders.");
    return h("table", {},
      h("thead", {}, h("tr", {}, ["Order", "Status", "Ordered", "Promised", "Total"].map((t) => h("th", { class: t === "Total" ? "num" : "" }, t)))),
      h("tbody", {}, list.map((o, i) => [
        h("tr", { "data-order": o.number },
          h("td", {}, o.number), h("td", {}, o.status), h("td", {}, date(o.orderedAt)), h("td", {}, date(o.promisedDate)),
          h("td", { class: "num", "data-field": "total" }, money(o.total, o.currency))),
        h("tr", { class: "lines" }, h("td", { colspan: 5 }, h("table", {},
          h("thead", {}, h("tr", {}, ["SKU", "Product", "Qty", "Shipped", "Unit price", "Amount", "Available now"].map((t) => h("th", {}, t)))),
          h("tbody", {}, (o.lines ?? []).map((l, j) => {
            const path = ["customer", "orders", i, "lines", j, "product"];
            return h("tr", { "data-sku": l.sku },
              h("td", {}, l.sku), h("td", {}, l.product?.name ?? shown(answer, path, null)),
              h("td", { class: "num" }, quantity(l.quantity)), h("td", { class: "num" }, quantity(l.shippedQuantity)),
              h("td", { class: "num" }, money(l.unitPrice)), h("td", { class: "num" }, money(l.amount)),
              h("td", { class: "num", "data-field": "available" }, shown(answer, [...path, "availability"], l.product?.availability?.available, quantity)));
          }))))),
      ])));
  }));
}

function contracts(answer, c) {
  return section("Contracts", "contracts", orWhy(answer, ["customer", "contracts"], c.contracts, (list) => {
    if (!list.length) return h("p", { class: "muted" }, "No contracts.");
    return h("table", {},
      h("thead", {}, h("tr", {}, ["Contract", "Status", "Amount", "Ends", "Fulfilment"].map((t) => h("th", {}, t)))),
      h("tbody", {}, list.map((k, i) => {
        const f = k.fulfilment;
        const progress = f?.progress;
        return h("tr", { "data-contract": k.number },
          h("td", {}, k.number, h("div", { class: "muted" }, k.title)),
          h("td", {}, k.status),
          h("td", { class: "num" }, shown(answer, ["customer", "contracts", i, "amount"], k.amount, (v) => money(v, k.currency))),
          h("td", {}, date(k.endDate)),
          h("td", { "data-field": "progress" }, progress != null
            ? [h("span", { class: "progress" }, h("span", { style: { width: `${Math.min(100, progress * 100)}%` } })), " ", percent(progress * 100)]
            : shown(answer, f ? ["customer", "contracts", i, "fulfilment", "progress"] : ["customer", "contracts", i, "fulfilment"], null)));
      })));
  }));
}

function tickets(answer, c) {
  return section("Service tickets", "tickets", orWhy(answer, ["customer", "tickets"], c.tickets, (list) => {
    if (!list.length) return h("p", { class: "muted" }, "No tickets.");
    return h("table", {},
      h("thead", {}, h("tr", {}, ["Ticket", "Subject", "Kind", "Status", "Priority", "Opened", "SLA"].map((t) => h("th", {}, t)))),
      h("tbody", {}, list.map((t) => h("tr", { "data-ticket": t.id },
        h("td", {}, t.id), h("td", {}, t.subject), h("td", {}, t.kind), h("td", {}, t.status), h("td", {}, t.priority),
        h("td", {}, date(t.openedAt)), h("td", {}, t.slaBreached ? h("span", { class: "badge bad" }, "breached") : "")))));
  }));
}

function timeline(answer, c) {
  const problem = answer.problem(["customer", "timeline"]);
  return section("Timeline", "timeline", orWhy(answer, ["customer", "timeline"], c.timeline, (list) => [
    h("table", {}, h("tbody", {}, list.map((e) => h("tr", { "data-source": e.source },
      h("td", {}, date(e.at)), h("td", {}, h("b", {}, e.source)), h("td", {}, e.kind), h("td", {}, e.summary))))),
    problem?.down ? h("p", { class: "missing" }, `Events from the ${problem.down} are missing (${problem.down} down).`) : null,
  ]));
}

function contacts(answer, c) {
  return section("Contacts", "contacts", orWhy(answer, ["customer", "contacts"], c.contacts, (list) =>
    h("table", {}, h("tbody", {}, list.map((p, i) => h("tr", {},
      h("td", {}, p.name), h("td", {}, p.title ?? ""),
      h("td", {}, shown(answer, ["customer", "contacts", i, "email"], p.email)),
      h("td", {}, shown(answer, ["customer", "contacts", i, "phone"], p.phone))))))));
}
