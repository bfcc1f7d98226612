// CloudWatch Logs filter patterns for JSON events, evaluated locally for the tests: the part
// of the documented syntax the stack's metric filters use. `{ cond && cond ... }` where a
// condition is `$.field OP value` (OP one of = != > < >= <=; value a number or a double-quoted
// string in which * matches any text) or `$.field IS TRUE|FALSE|NULL`. Top-level fields only.
// Anything else throws, so a pattern the evaluator does not understand never passes a test.

type Condition =
  | { field: string; op: "=" | "!=" | ">" | "<" | ">=" | "<="; value: string | number }
  | { field: string; op: "IS"; value: true | false | null };

const CONDITION =
  /^\$\.([A-Za-z0-9_-]+)\s*(?:(=|!=|>=|<=|>|<)\s*(?:"((?:[^"\\]|\\.)*)"|(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?))|IS\s+(TRUE|FALSE|NULL))$/i;

export function parseFilterPattern(pattern: string): Condition[] {
  const body = /^\{\s*([\s\S]*?)\s*\}$/.exec(pattern.trim())?.[1];
  if (body === undefined) throw new Error(`not a JSON filter pattern: ${pattern}`);
  if (body.includes("||") || body.includes("(")) throw new Error(`only && of plain conditions is supported here: ${pattern}`);
  return body.split("&&").map((part) => {
    const m = CONDITION.exec(part.trim());
    if (!m) throw new Error(`condition not supported here: ${part.trim()}`);
    const [, field, op, text, number, is] = m;
    if (is !== undefined) return { field, op: "IS", value: is.toUpperCase() === "TRUE" ? true : is.toUpperCase() === "FALSE" ? false : null };
    return { field, op: op as Exclude<Condition["op"], "IS">, value: text !== undefined ? text.replace(/\\(.)/g, "$1") : Number(number) };
  });
}

export function matchesFilterPattern(pattern: string, event: Record<string, unknown>): boolean {
  return parseFilterPattern(pattern).every((c) => holds(c, event));
}

/** The metric value one matching line contributes (a number, or `$.field`). */
export function metricValue(value: string, event: Record<string, unknown>): number {
  const field = /^\$\.([A-Za-z0-9_-]+)$/.exec(value)?.[1];
  const n = field === undefined ? Number(value) : event[field];
  if (typeof n !== "number" || !Number.isFinite(n)) throw new Error(`metric value ${value} is not a number in ${JSON.stringify(event)}`);
  return n;
}

function holds(c: Condition, event: Record<string, unknown>): boolean {
  if (!(c.field in event)) return false;
  const actual = event[c.field];
  if (c.op === "IS") return actual === c.value;
  if (typeof c.value === "string") {
    if (typeof actual !== "string") return false;
    const equal = wildcard(c.value).test(actual);
    if (c.op === "=") return equal;
    if (c.op === "!=") return !equal;
    throw new Error(`${c.op} compares numbers, not the string "${c.value}"`);
  }
  if (typeof actual !== "number") return false;
  switch (c.op) {
    case "=":
      return actual === c.value;
    case "!=":
      return actual !== c.value;
    case ">":
      return actual > c.value;
    case "<":
      return actual < c.value;
    case ">=":
      return actual >= c.value;
    case "<=":
      return actual <= c.value;
  }
}

function wildcard(text: string): RegExp {
  return new RegExp(`^${text.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\/]/g, "\\$&")).join("[\\s\\S]*")}$`);
}
