// Who the page acts as. In the demo the gateway hands out a token per role (GET /demo/tokens,
// served by `isthmus demo` only); a real front-end would get its token from the company's sign-in.
// The role picked is remembered (the same choice as GraphiQL's picker); `?role=` in the URL picks one.

import { h } from "./ui.js";

const ROLE_KEY = "isthmus.demo.role";

export async function signIn(bar, defaultRole) {
  const response = await fetch("/demo/tokens", { cache: "no-store" });
  if (!response.ok) throw new Error("No demo tokens here: these pages are served by `isthmus demo`.");
  const people = (await response.json()).people;
  const asked = new URLSearchParams(window.location.search).get("role");
  if (asked) localStorage.setItem(ROLE_KEY, asked);
  const wanted = asked ?? localStorage.getItem(ROLE_KEY) ?? defaultRole;
  const person = people.find((p) => p.role === wanted) ?? people.find((p) => p.role === defaultRole) ?? people[0];
  const select = h(
    "select",
    { id: "role", onchange: (event) => {
      localStorage.setItem(ROLE_KEY, event.target.value);
      const url = new URL(window.location.href);
      url.searchParams.delete("role");
      window.location.href = url.href;
    } },
    people.map((p) => h("option", { value: p.role, selected: p.role === person.role }, label(p))),
  );
  bar.replaceChildren(h("label", {}, "Signed in as ", select), h("span", { class: "note" }, "demo sign-in"));
  return person;
}

function label(person) {
  return person.name && person.name !== person.role ? `${person.name} (${person.role}, ${person.team})` : person.role;
}
