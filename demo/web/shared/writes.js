// How a page writes through the graph: one idempotency key per attempt, sent again on every
// retry of that attempt, so a double click or a retry after a lost answer never writes twice;
// and what a mutation's coded errors mean, in plain words.

import { GraphError } from "./graph.js";

/** One attempt at a write: a trusted mutation, its variables, and a key made once when it starts. */
export class Attempt {
  constructor(graph, name, variables) {
    this.graph = graph;
    this.name = name;
    this.variables = variables;
    this.key = crypto.randomUUID();
    this.fingerprint = JSON.stringify(variables);
    this.settled = false; // an outcome that a retry would not change (written, or refused with nothing written)
  }

  /** Is this attempt for these variables (the same quote)? */
  isFor(variables) {
    return JSON.stringify(variables) === this.fingerprint;
  }

  /** Send it (again: always with the same key). {answer}, {refused: message}, or {lost: message}. */
  async send() {
    try {
      return { answer: await this.graph.run(this.name, { ...this.variables, key: this.key }) };
    } catch (error) {
      // A refusal over HTTP (401, 403, 400) ran nothing; a network error or a 5xx may have written.
      if (error instanceof GraphError && error.status > 0 && error.status < 500) return { refused: error.message };
      return { lost: error.message };
    }
  }
}

const SOURCE_CODES = new Set(["SOURCE_UNAVAILABLE", "SOURCE_TIMEOUT", "SOURCE_BAD_RESPONSE", "SOURCE_REJECTED"]);

/** A field path of the API (`input.lines[0].quantity`) as a person says it (line 1, quantity). */
export function fieldWords(path) {
  const line = /^(?:input\.)?lines\[(\d+)\]\.(\w+)$/.exec(path);
  if (line) return `line ${Number(line[1]) + 1}, ${line[2]}`;
  if (path === "idempotencyKey") return "the idempotency key";
  return path.replace(/^input\./, "");
}

// A field path in an error message, in backticks or not: input.lines[0].quantity, input.customerId, idempotencyKey.
const FIELD = /`?((?:input\.)?lines\[\d+\]\.\w+|input\.\w+|idempotencyKey)`?/g;

/** The field paths a BAD_USER_INPUT message names, each once, in order. */
export function fieldsNamed(message) {
  return [...new Set([...message.matchAll(FIELD)].map((match) => match[1]))];
}

/**
 * A mutation's error in plain words: {text, retry, fields}. `retry`: sending the same attempt
 * again (same key) may still make or settle the write; otherwise nothing was written.
 */
export function explain(error) {
  const code = error.extensions?.code;
  const message = error.message ?? "";
  if (code === "OUTCOME_UNKNOWN") {
    const system = error.extensions?.source ?? "The system of record";
    return { retry: true, text: `${system} took the write but gave no answer in time, so it may have been made. `
      + "Retry with the same key: the retry settles it, and never makes a second one." };
  }
  if (code === "IDEMPOTENCY_KEY_IN_USE") {
    return { retry: true, text: "The same attempt is still running (another click or tab). Retry with the same key in a moment." };
  }
  if (code === "IDEMPOTENCY_KEY_REUSED") {
    return { text: "This attempt's key was already used for other input, so nothing was written. "
      + "Place the order again to start a new attempt." };
  }
  if (code === "FORBIDDEN") return { text: `Not allowed: ${message} Nothing was written.` };
  if (code === "BAD_USER_INPUT") {
    const fields = fieldsNamed(message);
    const text = message.replace(FIELD, (_, path) => fieldWords(path));
    return { fields, text: `Please check ${fields.map(fieldWords).join("; ") || "the input"}. ${text}` };
  }
  if (SOURCE_CODES.has(code)) {
    return { retry: code !== "SOURCE_REJECTED", text: `${error.extensions?.source ?? "A system"} could not take the write: ${message}` };
  }
  return { text: message || "The write failed." };
}
