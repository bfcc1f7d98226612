// Values that only stand in for real ones: documentation address ranges (RFC 5737 for
// IPv4, RFC 3849 for IPv6), example domains (RFC 2606) and the committed placeholder CA.
// Templates may hold them; a deployment with them is unreachable or trusts a CA whose key
// is public, so `pulumi up` refuses them (see stacks/stack.ts).
import { parseCidr } from "./cidr";

const DOCUMENTATION_V4 = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"].map((c) => parseCidr(c)) as {
  network: number;
  prefixLength: number;
}[];

export interface Placeholder {
  /** The config key, e.g. "stowrs-to-s3:allowedPeers". */
  key: string;
  message: string;
}

/** Whether an IPv4 CIDR lies inside one of the documentation ranges. */
export function isDocumentationCidr(cidr: string): boolean {
  const parsed = parseCidr(cidr);
  if (typeof parsed === "string") return false;
  return DOCUMENTATION_V4.some(
    (doc) => parsed.prefixLength >= doc.prefixLength && maskOf(parsed.network, doc.prefixLength) === doc.network,
  );
}

/** Hosts that can never be a real service: example.com/.net/.org, the .example TLD, documentation addresses. */
export function isPlaceholderHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "");
  if (/(^|\.)example\.(com|net|org)$/.test(h) || /(^|\.)example$/.test(h)) return true;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(h)) return isDocumentationCidr(`${h}/32`);
  // RFC 3849: 2001:db8::/32.
  return /^2001:0?db8(:|$)/.test(h);
}

function maskOf(address: number, prefixLength: number): number {
  return prefixLength === 0 ? 0 : (address & (~0 << (32 - prefixLength))) >>> 0;
}
