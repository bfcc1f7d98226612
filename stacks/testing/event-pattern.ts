// An EventBridge event-pattern matcher for the tests, limited to what the stack's rules use:
// exact values, prefix, suffix and wildcard. No maintained matcher is on npm (AWS's Event
// Ruler is Java; TestEventPattern is an API call, and the tests have no network), so the
// subset is written out here from EventBridge's documented semantics, and any other operator
// throws instead of matching or not matching by accident.
//
// Semantics kept: every field named in the pattern must be in the event; a pattern object
// recurses into the event's object; a pattern array lists alternatives (any may match);
// an event array matches when any of its elements does; matching is exact and case-sensitive.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function matchesPattern(pattern: Record<string, unknown>, event: Json): boolean {
  if (event === null || typeof event !== "object" || Array.isArray(event)) return false;
  for (const [field, expected] of Object.entries(pattern)) {
    if (!(field in event)) return false;
    const actual = event[field];
    if (Array.isArray(expected)) {
      if (!matchesLeaf(expected, actual)) return false;
    } else if (expected !== null && typeof expected === "object") {
      if (!matchesPattern(expected as Record<string, unknown>, actual)) return false;
    } else {
      throw new Error(`pattern field ${field}: a leaf must be an array of alternatives, got ${JSON.stringify(expected)}`);
    }
  }
  return true;
}

function matchesLeaf(alternatives: unknown[], actual: Json): boolean {
  const values = Array.isArray(actual) ? actual : [actual];
  return values.some((value) => alternatives.some((alternative) => matchesOne(alternative, value)));
}

function matchesOne(alternative: unknown, value: Json): boolean {
  if (alternative === null || typeof alternative !== "object") return alternative === value;
  const entries = Object.entries(alternative as Record<string, unknown>);
  if (entries.length !== 1) throw new Error(`one operator per matcher, got ${JSON.stringify(alternative)}`);
  const [operator, operand] = entries[0];
  if (typeof operand !== "string") throw new Error(`${operator}: only string operands are supported here, got ${JSON.stringify(operand)}`);
  if (typeof value !== "string") return false;
  switch (operator) {
    case "prefix":
      return value.startsWith(operand);
    case "suffix":
      return value.endsWith(operand);
    case "wildcard":
      return wildcardRegExp(operand).test(value);
    default:
      throw new Error(`operator "${operator}" is not supported by this matcher (only exact values, prefix, suffix, wildcard)`);
  }
}

/** "*" is any run of characters (also none); "\*" and "\\" are the literal characters. */
function wildcardRegExp(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\" && (pattern[i + 1] === "*" || pattern[i + 1] === "\\")) {
      source += escapeRegExp(pattern[++i]);
    } else if (c === "*") {
      if (pattern[i + 1] === "*") throw new Error(`wildcard "${pattern}": EventBridge refuses consecutive *`);
      source += "[\\s\\S]*";
    } else source += escapeRegExp(c);
  }
  return new RegExp(`^${source}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
