// Small DOM and formatting helpers shared by the example front-ends (no framework, no build).

/** h("div", {class: "x", onclick: f, style: {width: "5%"}}, child, [children], "text") */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value == null) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "style") Object.assign(element.style, value); // CSSOM: allowed by a CSP without inline styles
    else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.flat(Infinity).filter((child) => child != null && child !== false));
  return element;
}

/** A Decimal string as the API sends it ("12345.6") with thousands separators and two places. */
export function money(value, currency) {
  if (value == null) return "";
  const number = Number(value).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return currency ? `${number} ${currency}` : number;
}

export function quantity(value) {
  return value == null ? "" : Number(value).toLocaleString("en-US", { maximumFractionDigits: 3 });
}

export function percent(value) {
  return value == null ? "" : `${value.toFixed(1)} %`;
}

export function date(value) {
  return value ? value.slice(0, 10) : "";
}

/** A value, or why it is missing (denied to this role, a system down), from the answer's errors. */
export function shown(answer, path, value, format = (v) => String(v)) {
  if (value != null) return h("span", {}, format(value));
  const problem = answer.problem(path);
  if (problem?.denied) return h("span", { class: "denied", title: "This role may not see it." }, "not visible to your role");
  if (problem?.down) return h("span", { class: "missing", title: problem.message }, `unavailable (${problem.down} down)`);
  if (problem?.error) return h("span", { class: "missing", title: problem.error }, "unavailable");
  return h("span", { class: "none" }, "—");
}

/** Banner naming the systems that did not answer; empty when all did. */
export function banner(answer, element) {
  const down = answer.down();
  const names = Object.keys(down);
  if (!names.length) {
    element.replaceChildren();
    element.hidden = true;
    return;
  }
  element.hidden = false;
  element.replaceChildren(
    h("strong", {}, `${names.join(", ")} ${names.length > 1 ? "are" : "is"} not answering. `),
    `What comes from ${names.length > 1 ? "them" : "it"} is missing below; everything else is live. `,
    h("span", { class: "detail" }, Object.values(down).join(" ")),
  );
}

/** Per system: down, stale, its age, or live (fetched for this answer). */
export function freshness(answer, systems) {
  const down = answer.down();
  const ages = answer.freshness();
  return h(
    "ul",
    { class: "freshness" },
    systems.map((system) => {
      let text = "live";
      let state = "live";
      if (down[system]) [text, state] = ["down", "down"];
      else if (ages[system]?.stale) [text, state] = [`stale, ${Math.round(ages[system].age)} s old`, "stale"];
      else if (ages[system]) text = `${Math.round(ages[system].age)} s old`;
      return h("li", { class: state, "data-system": system }, h("b", {}, system), " ", text);
    }),
  );
}
