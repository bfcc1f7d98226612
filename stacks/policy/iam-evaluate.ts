// A small evaluator for the IAM policy documents this stack writes: which statements match
// a request (principal, action, resource, condition keys). Enough to ask "is the task role
// or the deploy role denied anything here?" and "may a stranger read an object?" offline,
// in the policy rules and their tests. It knows the condition operators the stack uses
// (Arn*, String*, Bool, with IfExists and Not forms); any other operator makes a statement
// "unknown", which callers treat as a failure rather than a pass.

export interface IamRequest {
  /** aws:PrincipalArn: a role's ARN for its sessions; absent for AWS service principals. */
  principalArn?: string;
  action: string;
  resource: string;
  /** Other request context keys (s3:prefix, kms:ViaService, aws:SecureTransport...). */
  context?: Record<string, string>;
}

export type Statement = {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: unknown;
  NotPrincipal?: unknown;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | string[] | boolean>>;
};

/** The statements of a policy given as JSON text or as an object; [] when it cannot be read. */
export function statementsOf(policy: unknown): Statement[] {
  let doc = policy;
  if (typeof policy === "string") {
    try {
      doc = JSON.parse(policy);
    } catch {
      return [];
    }
  }
  const list = (doc as { Statement?: unknown })?.Statement;
  return (Array.isArray(list) ? list : list ? [list] : []) as Statement[];
}

/** IAM's wildcard match: * any run of characters, ? one; actions case-insensitively. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, ignoreCase ? "i" : "");
  return re.test(value);
}

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

function principalMatches(s: Statement, request: IamRequest): boolean {
  if (s.NotPrincipal !== undefined) return false; // not used by this stack; never silently matched
  const p = s.Principal;
  if (p === undefined || p === "*") return true;
  const aws = list((p as { AWS?: unknown }).AWS);
  if (aws.includes("*")) return true;
  const arn = request.principalArn;
  if (!arn) return false;
  const account = /^arn:[^:]+:iam::(\d{12}):/.exec(arn)?.[1];
  return aws.some((a) => a === arn || (account !== undefined && (a === account || a.endsWith(`:iam::${account}:root`))));
}

function conditionKey(request: IamRequest, key: string): string | undefined {
  if (key.toLowerCase() === "aws:principalarn") return request.principalArn;
  const found = Object.entries(request.context ?? {}).find(([k]) => k.toLowerCase() === key.toLowerCase());
  return found?.[1];
}

const KNOWN_OPERATORS = ["ArnEquals", "ArnLike", "StringLike", "StringEquals", "StringEqualsIgnoreCase", "Bool"];

/** true, false, or undefined for an operator this evaluator does not know. */
function conditionHolds(operator: string, key: string, values: string[], request: IamRequest): boolean | undefined {
  let op = operator;
  const ifExists = op.endsWith("IfExists");
  if (ifExists) op = op.slice(0, -"IfExists".length);
  const negated = /^(Arn|String)Not/.test(op);
  const base = op.replace(/^(Arn|String)Not/, "$1");
  if (!KNOWN_OPERATORS.includes(base)) return undefined;
  const actual = conditionKey(request, key);
  if (actual === undefined) return ifExists || negated;
  let match: boolean;
  switch (base) {
    case "ArnEquals":
    case "ArnLike":
    case "StringLike":
      match = values.some((v) => wildcardMatch(v, actual));
      break;
    case "StringEquals":
      match = values.includes(actual);
      break;
    case "StringEqualsIgnoreCase":
      match = values.some((v) => v.toLowerCase() === actual.toLowerCase());
      break;
    case "Bool":
      match = values.some((v) => v.toLowerCase() === actual.toLowerCase());
      break;
    default:
      return undefined;
  }
  return negated ? !match : match;
}

/** Whether the statement applies to the request; undefined when it uses something this evaluator does not know. */
export function statementMatches(s: Statement, request: IamRequest): boolean | undefined {
  if (!principalMatches(s, request)) return false;
  const actions = s.Action !== undefined ? list(s.Action).some((a) => wildcardMatch(a, request.action, true)) : !list(s.NotAction).some((a) => wildcardMatch(a, request.action, true));
  if (!actions) return false;
  const resources = s.Resource !== undefined ? list(s.Resource).some((r) => wildcardMatch(r, request.resource)) : !list(s.NotResource).some((r) => wildcardMatch(r, request.resource));
  if (!resources) return false;
  for (const [operator, entries] of Object.entries(s.Condition ?? {})) {
    for (const [key, value] of Object.entries(entries)) {
      const holds = conditionHolds(operator, key, list(value), request);
      if (holds === undefined) return undefined;
      if (!holds) return false;
    }
  }
  return true;
}

/** The Sids (or positions) of the Deny statements that refuse the request; an unknown one counts as refusing. */
export function denyingStatements(policy: unknown, request: IamRequest): string[] {
  return statementsOf(policy)
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => s.Effect === "Deny" && statementMatches(s, request) !== false)
    .map(({ s, i }) => s.Sid ?? `#${i + 1}`);
}

/** Whether some Allow statement grants the request (and no Deny refuses it). */
export function allows(policy: unknown, request: IamRequest): boolean {
  if (denyingStatements(policy, request).length > 0) return false;
  return statementsOf(policy).some((s) => s.Effect === "Allow" && statementMatches(s, request) === true);
}
