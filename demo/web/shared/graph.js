// How a front-end talks to Isthmus: trusted documents by id, and reading what an answer says
// beside its data (errors per path, systems down, fields denied, freshness per system).
//
// The documents are the repository's persisted/ operations. A page names the operation it
// wants; its id comes from the gateway's manifest (GET /persisted/manifest), so the page never
// sends a query text and works on a gateway that accepts trusted documents only.

const SOURCE_CODES = new Set(["SOURCE_UNAVAILABLE", "SOURCE_TIMEOUT", "SOURCE_BAD_RESPONSE"]);
export const SYSTEMS = ["CRM", "ERP", "CLM", "DESK"];

/** An HTTP refusal of a request as a whole; `status` is the HTTP status (a 5xx may have run a mutation). */
export class GraphError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.status = status;
  }
}

export class Graph {
  constructor(token, base = "/") {
    this.token = token;
    this.base = base;
    this.ids = null;
  }

  headers() {
    return { Authorization: `Bearer ${this.token}`, "Content-Type": "application/json" };
  }

  async documentId(name) {
    if (!this.ids) {
      const response = await fetch(`${this.base}persisted/manifest`, { headers: this.headers() });
      if (!response.ok) throw new GraphError(`The manifest of trusted documents: HTTP ${response.status}`);
      const manifest = await response.json();
      this.ids = new Map(manifest.operations.map((op) => [op.name, op.id]));
    }
    const id = this.ids.get(name);
    if (!id) throw new GraphError(`${name} is not a trusted document of this gateway`);
    return id;
  }

  /** Run a trusted operation by name; the answer, whatever its errors (an HTTP refusal throws). */
  async run(name, variables = {}) {
    const body = JSON.stringify({ documentId: `sha256:${await this.documentId(name)}`, variables });
    const response = await fetch(`${this.base}graphql`, { method: "POST", headers: this.headers(), body });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const message = answer.errors?.[0]?.message ?? `HTTP ${response.status}`;
      throw new GraphError(message, response.status);
    }
    return new Answer(answer);
  }
}

const samePath = (a, b) => a.length === b.length && a.every((part, i) => part === b[i]);

/** An answer: `data`, and what its errors and extensions say about each part of it. */
export class Answer {
  constructor({ data = null, errors = [], extensions = {} }) {
    this.data = data;
    this.errors = errors;
    this.extensions = extensions;
  }

  /** Why the value at `path` is missing: {denied}, {notFound}, {down: "ERP"}, {error: message}, or null. */
  problem(path) {
    for (const error of this.errors) {
      const code = error.extensions?.code;
      const paths = [error.path ?? [], ...(error.extensions?.affectedPaths ?? [])];
      if (!paths.some((p) => samePath(p, path))) continue;
      if (code === "FORBIDDEN") return { denied: true };
      if (code === "NOT_FOUND") return { notFound: true };
      if (SOURCE_CODES.has(code)) return { down: error.extensions.source, message: error.message };
      return { error: error.message };
    }
    return null;
  }

  /** Systems that failed to answer for this request: {"ERP": "ERP could not answer (unavailable)."} */
  down() {
    const systems = {};
    for (const error of this.errors) {
      if (SOURCE_CODES.has(error.extensions?.code)) systems[error.extensions.source] ??= error.message;
    }
    return systems;
  }

  /** Per system: its age in seconds and whether stale, for the data this answer used from caches. */
  freshness() {
    return this.extensions.freshness ?? {};
  }
}
