// IPv4 CIDR parsing and subnet arithmetic, kept free of Pulumi so it is plain to test.

export interface Cidr {
  /** Canonical text, e.g. "10.0.0.0/16". */
  text: string;
  network: number;
  prefixLength: number;
}

const OCTET = /^(0|[1-9]\d{0,2})$/;

/** Returns the parsed CIDR, or a sentence saying what is wrong with it. */
export function parseCidr(text: string): Cidr | string {
  const match = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!match) return `"${text}" is not an IPv4 CIDR like 10.0.0.0/16`;
  const parts = match[1].split(".");
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p) && Number(p) <= 255)) {
    return `"${text}" is not an IPv4 CIDR like 10.0.0.0/16`;
  }
  const prefixLength = Number(match[2]);
  if (prefixLength > 32) return `"${text}" has a prefix length over 32`;
  const address = parts.reduce((acc, p) => acc * 256 + Number(p), 0);
  const network = prefixLength === 0 ? 0 : address - (address % 2 ** (32 - prefixLength));
  if (network !== address) {
    // AWS rejects host bits in security group and VPC ranges; say which range was meant.
    return `"${text}" has host bits set; did you mean ${formatAddress(network)}/${prefixLength}?`;
  }
  return { text: `${formatAddress(network)}/${prefixLength}`, network, prefixLength };
}

export function formatAddress(address: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join(".");
}

/** The index-th block of a range split into 2^extraBits equal blocks. */
export function subnetOf(cidr: Cidr, extraBits: number, index: number): string {
  const prefixLength = cidr.prefixLength + extraBits;
  if (prefixLength > 32 || index < 0 || index >= 2 ** extraBits) {
    throw new RangeError(`cannot take block ${index} of ${cidr.text} split by ${extraBits} bits`);
  }
  return `${formatAddress(cidr.network + index * 2 ** (32 - prefixLength))}/${prefixLength}`;
}

/** Whether two ranges share an address (one contains the other's network). */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const shorter = Math.min(a.prefixLength, b.prefixLength);
  const block = 2 ** (32 - shorter);
  return Math.floor(a.network / block) === Math.floor(b.network / block);
}
