// Real TLS material for the @pulumi/tls resources under the offline mocks, made the same
// way on every run: the rehearsal hands it to nginx, which must load it, and the snapshots
// must not change from run to run. The key below exists only for offline plans and
// rehearsals; no deployment uses it (the real provider makes its own).
import { createHash, createPrivateKey, createPublicKey, sign } from "node:crypto";
import { isIP } from "node:net";

export const MOCK_TLS_KEY_PEM = `
-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQC/GGX5H7hn2XcK
/bA8tREUESF8qyUcHeLp8+g9YEwkS/BPMNlXFIcI/1LN/cYB5OZ/JQ+kO/EfvHqE
HGRFGg2V2ghlCYg9WWUr91Xi8DRAQBztVpFMuJJ1mK/0eLhNXmpPkkaSKs7HWUpk
LQQ5fWvbZoW4fQ4YuV6RI25llBz5EhM3mMMQBSj4T4o2J7S1l8FrD2/3r3nt8Mkk
6PMKUtpfnJjvk4hgWR6F8/e1WWdkxmf+7Xq9V2GeaYYqmbM+SSijUQ/DIo258aIq
MwEbv+7n03+UYe32JLSCC+rMuCNt0VAW/xbrafNSiooGSafx4Mcwmmyk4BA6oVvZ
StaFPVwdAgMBAAECggEAR/An505tLc8cdOtGzru9N6gxSozlNf38P+V9rqlTULCz
wSQbFaCZKyZvJjPcODdTHFc32bRlE/TwzE4h4y+pIJoJYfviKXI/V3tPflS93tgj
66cUoOS04gc+ahKOEzYxYE4pOfpaiIpRKoAV4IyaL2ibe3W8ektCUfIcK6pD8/EV
6IBMvI78feULwr6e0wuXdfvgkTU0hMds3bKNQWZCnUtPyot8PHaFsclfS9IQDjve
ZWQUn86WgaFc7s3/FoHPnqsh6S2GEY4TLqIsjkt+kcNyPeaurhtpKeQ9L/1j0GKI
4N4Efldk7QNyTQw/QEMRcQw1TD8kl/7TswfI/Mk4UwKBgQD3tvboWgjcN30+SgVZ
oEUsORQFl7wrpEJksVBK5SfUggZXM7h5+C0KC3OrrnAqm3Z/8osOh1TVk7OVc4sn
9Q/rWnKlx6df6cCjhxBN99XF8xKEQeHjhNA+589LgxJDcVFhoYY28kt8LCnw7LDY
2av69EknRx8YPreGBThoHJsYOwKBgQDFfKKb/halE/DXyY5nafKfTmOWm7h0OqV/
lEhcJjtBrfCFC/FQ2OHvJs9fzrgt60+ep17476aj96k9LoqJju7UTVvw5cZHx3vw
yFy3lj2g81z9ciDHqFQr1XtHacmyNU59m1TS39vkqa5RnLo7tsuEbMdUVaaFYuDz
evR1grZvhwKBgAFymUjMVebrkBjQF+3pKN5USxCpTVk38YdjHeQCKNRuGhliXP6h
e6nmXTuwnkkxdWTUBwoDsnQ5E8CY10RZg0lN0wOzAgBmflC2VlsOSrqIbCBHvkk1
Gn5znluDnZS1UdNvPTiO++/y1h/pUjNCOmYSDWdkXAMpQqtO1oCNQj7HAoGAGlxk
qEXmZ+qdf3BcHdm6lSE1kej/WiRp6vm0HvjLeBzruha6A3yvy+h2TeeeFiMO4bKd
rsTujXyFjrEjtPDrWFNrLmC9ct9h3+Ye2jKnz1As3XfagEwr0B4S8plgXvVWoNWX
IP7Yr1Em/6XYBhiEWgzbHprAO5XTSSzkbLsh9wkCgYAUJYxCuEMB1V8Be8LkNgqs
9saVj/Flf4QCjgj942XltFFOLH/J8vvdlAhzWokFrY6WjVAtxon65X4RmZsT4Q9V
id46diJmgGch9QT3BOiHylWGCxcWzr+9hlUcLPMpq2yWx/vwJD4EVzWjIVWLTsl5
fpt0SaNmmfX+wv0QcagW6Q==
-----END PRIVATE KEY-----
`.trimStart();

/** Fixed validity wide enough that the rehearsal's client accepts the certificate today. */
export const MOCK_NOT_BEFORE = "2020-01-01T00:00:00Z";
export const MOCK_NOT_AFTER = "2049-12-31T23:59:59Z";

type Inputs = Record<string, any>;

/** Outputs of tls:index/privateKey:PrivateKey. */
export function mockPrivateKey(): Inputs {
  const key = createPrivateKey(MOCK_TLS_KEY_PEM);
  const publicKeyPem = createPublicKey(key).export({ type: "spki", format: "pem" }).toString();
  return {
    privateKeyPem: key.export({ type: "pkcs1", format: "pem" }).toString(),
    privateKeyPemPkcs8: MOCK_TLS_KEY_PEM,
    publicKeyPem,
    publicKeyFingerprintSha256: createHash("sha256").update(publicKeyPem).digest("base64"),
  };
}

/** Outputs of tls:index/selfSignedCert:SelfSignedCert: a v3 server certificate signed with the given key. */
export function mockSelfSignedCert(inputs: Inputs): Inputs {
  const key = createPrivateKey(String(inputs.privateKeyPem));
  const subject = name(inputs.subject ?? {});
  const dnsNames: string[] = inputs.dnsNames ?? [];
  const ipAddresses: string[] = inputs.ipAddresses ?? [];
  const extensions = [
    extension("2.5.29.19", true, seq()), // basicConstraints: not a CA
    extension("2.5.29.15", true, Buffer.from([0x03, 0x02, 0x05, 0xa0])), // keyUsage: digitalSignature, keyEncipherment
    extension("2.5.29.37", false, seq(oid("1.3.6.1.5.5.7.3.1"))), // extKeyUsage: serverAuth
  ];
  if (dnsNames.length + ipAddresses.length > 0) {
    const names = [
      ...dnsNames.map((d) => tlv(0x82, Buffer.from(d, "ascii"))),
      ...ipAddresses.map((ip) => tlv(0x87, ipBytes(ip))),
    ];
    extensions.push(extension("2.5.29.17", false, seq(...names)));
  }
  const algorithm = seq(oid("1.2.840.113549.1.1.11"), Buffer.from([0x05, 0x00])); // sha256WithRSAEncryption
  const spki = createPublicKey(key).export({ type: "spki", format: "der" });
  const serial = createHash("sha256").update(JSON.stringify([inputs.subject, dnsNames, ipAddresses])).digest().subarray(0, 16);
  serial[0] &= 0x7f;
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    algorithm,
    subject,
    seq(utcTime(MOCK_NOT_BEFORE), utcTime(MOCK_NOT_AFTER)),
    subject,
    spki,
    tlv(0xa3, seq(...extensions)),
  );
  const signature = sign("sha256", tbs, key);
  const der = seq(tbs, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = der.toString("base64").replace(/.{1,64}/g, "$&\n");
  return { certPem: `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`, validityStartTime: MOCK_NOT_BEFORE, validityEndTime: MOCK_NOT_AFTER, readyForRenewal: false };
}

function tlv(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}

function seq(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

function integer(bytes: Buffer): Buffer {
  return tlv(0x02, bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function oid(text: string): Buffer {
  const [a, b, ...rest] = text.split(".").map(Number);
  const bytes = [40 * a + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function utcTime(iso: string): Buffer {
  const digits = iso.replace(/[-:T]/g, "").slice(2, 14);
  return tlv(0x17, Buffer.from(`${digits}Z`, "ascii"));
}

function name(subject: Inputs): Buffer {
  const parts: [string, unknown][] = [
    ["2.5.4.10", subject.organization],
    ["2.5.4.3", subject.commonName],
  ];
  return seq(
    ...parts
      .filter(([, v]) => typeof v === "string" && v !== "")
      .map(([id, v]) => tlv(0x31, seq(oid(id), tlv(0x0c, Buffer.from(String(v), "utf8"))))),
  );
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [Buffer.from([0x01, 0x01, 0xff])] : []), tlv(0x04, value));
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split(".").map(Number));
  throw new Error(`the offline TLS mock takes IPv4 addresses only, got ${ip}`);
}
