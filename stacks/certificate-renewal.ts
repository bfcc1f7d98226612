// When the server certificate nginx presents is about to change or lapse. A generated
// certificate is replaced by the first `pulumi up` in its last GENERATED_RENEWAL_HOURS; clients
// that pin it (the dev setup, `npm run smoke`) then refuse the new one until they take it. The
// plan, `pulumi preview` and the rehearsal say so this many days ahead. Offline, a generated
// certificate's dates come from the deployed stack's outputs (`--outputs`), the only place they are.
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";

export const RENEWAL_NOTICE_DAYS = 30;
const DAY_MS = 24 * 3600 * 1000;

export type CertificateOrigin = "generated" | "configured";

/**
 * The warning for a certificate valid until `notAfter`, or undefined when nothing is due within
 * RENEWAL_NOTICE_DAYS. `renewalHours`: how long before notAfter a generated one is replaced.
 */
export function renewalNotice(origin: CertificateOrigin, notAfter: Date, now: Date, renewalHours: number): string | undefined {
  const until = notAfter.toISOString();
  if (origin === "generated") {
    const renewAt = new Date(notAfter.getTime() - renewalHours * 3600 * 1000);
    if (now.getTime() < renewAt.getTime() - RENEWAL_NOTICE_DAYS * DAY_MS) return undefined;
    const when = now >= renewAt ? "is due for renewal: the next pulumi up replaces it" : `is replaced by the first pulumi up from ${renewAt.toISOString().slice(0, 10)} on`;
    return (
      `certificate: the generated server certificate (valid until ${until}) ${when}; ` +
      `clients that pin it must then take the new one (pulumi stack output serverCertificate)`
    );
  }
  const days = Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
  if (days >= RENEWAL_NOTICE_DAYS) return undefined;
  const state = days < 0 ? "has expired" : `expires in ${days} day${days === 1 ? "" : "s"}`;
  return (
    `certificate: serverCertificate (valid until ${until}) ${state}: renew it and set certificate.serverCertificate and ` +
    `certificate.serverKey again; clients that pin it must take the new one`
  );
}

/** Warns (pulumi.log.warn: shown by preview and the plan) once notAfter is known and a notice is due. */
export function warnBeforeRenewal(origin: CertificateOrigin, notAfter: pulumi.Input<string>, renewalHours: number, now: () => Date = () => new Date()): void {
  pulumi.output(notAfter).apply((end) => {
    const notice = end ? renewalNotice(origin, new Date(end), now(), renewalHours) : undefined;
    if (notice) pulumi.log.warn(notice);
  });
}

/**
 * The notice for the certificate a deployed stack holds, from its outputs (`pulumi stack output
 * --json`): offline the plan and the rehearsal only know a generated certificate's dates from there.
 */
export function deployedCertificateNotice(outputs: Record<string, unknown>, now: Date, renewalHours: number): string | undefined {
  const pem = outputs.serverCertificate;
  if (outputs.certificateSource !== "FROMS3 generated certificate" || typeof pem !== "string" || !pem.includes("-----BEGIN CERTIFICATE-----")) return undefined;
  return renewalNotice("generated", new Date(new X509Certificate(pem).validTo), now, renewalHours);
}

/** Reads an outputs file for the options above; a string is what is wrong with it. */
export function readOutputsFile(file: string): Record<string, unknown> | string {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, "utf8"));
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return `${file}: not the JSON object pulumi stack output --json prints`;
    return parsed as Record<string, unknown>;
  } catch (err) {
    return `${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
}
