// Isthmus's GraphiQL page: the vendored GraphiQL with this gateway as its endpoint.
// In demo mode (`isthmus demo` only) the page lists a token per role and puts the one
// picked into GraphiQL's Headers tab, so nobody pastes tokens.
"use strict";

const e = React.createElement;
const root = document.getElementById("graphiql");
const endpoint = new URL(root.dataset.endpoint, window.location.href).href;
const tokensUrl = root.dataset.demoTokens; // present in demo mode only
const ROLE_KEY = "isthmus.demo.role";

const DEFAULT_QUERY = `# Isthmus: one live graph over CRM, ERP, CLM and the desk.
# Run with Ctrl-Enter. Every request needs credentials:
# a token in the Headers tab below.

query Start {
  me { id name roles }
  customers(first: 3) {
    totalCount
    edges { node { id name tier risk owner { name } } }
  }
}
`;

function headersFor(person) {
  return JSON.stringify({ Authorization: `Bearer ${person.token}` }, null, 2);
}

function Page({ people }) {
  const saved = people && people.find((p) => p.role === localStorage.getItem(ROLE_KEY));
  const first = people && (saved || people.find((p) => p.role === "admin") || people[0]);
  const [role, setRole] = React.useState(first ? first.role : null);
  const [headers, setHeaders] = React.useState(first ? headersFor(first) : undefined);

  function pick(event) {
    const person = people.find((p) => p.role === event.target.value);
    localStorage.setItem(ROLE_KEY, person.role);
    setRole(person.role);
    setHeaders(headersFor(person));
  }

  const graphiql = e(GraphiQL, {
    fetcher: GraphiQL.createFetcher({ url: endpoint }),
    plugins: [GraphiQLPluginExplorer.explorerPlugin()],
    defaultQuery: DEFAULT_QUERY,
    headers,
    onEditHeaders: setHeaders,
    isHeadersEditorEnabled: true,
    // Outside the demo a pasted token is kept for the next visit; in the demo the picker
    // supplies a fresh one (a restarted demo signs with a new secret).
    shouldPersistHeaders: !people,
    defaultEditorToolsVisibility: people ? "headers" : true,
    inputValueDeprecation: true,
  });
  if (!people) return graphiql;
  const options = people.map((p) =>
    e("option", { key: p.role, value: p.role }, p.name === p.role ? p.role : `${p.role}: ${p.name} (${p.user}, ${p.team})`),
  );
  return e(
    React.Fragment,
    null,
    e(
      "div",
      { className: "isthmus-demo-bar" },
      e("label", null, "Demo role ", e("select", { id: "demo-role", value: role, onChange: pick }, options)),
      e("span", { className: "note" }, "Its token is in the Headers tab (demo mode only)."),
    ),
    graphiql,
  );
}

async function start() {
  let people = null;
  if (tokensUrl) {
    const response = await fetch(tokensUrl, { cache: "no-store" });
    people = (await response.json()).people;
  }
  root.textContent = "";
  ReactDOM.createRoot(root).render(e(Page, { people }));
}

start();
