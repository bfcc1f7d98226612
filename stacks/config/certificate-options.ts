// More fields of the certificate key: revocation and the subject allowlist of client
// certificates. Read after the certificate block, whose mode, authMode and source decide
// whether they mean anything.
import { defineBlock } from "./block";
import { usesClientCertificates } from "./auth-mode";
import { readPem, type PemSource } from "./certificate-files";
import type { CertificateConfig } from "./certificate";

export interface CertificateOptions {
  /**
   * certificate.crl: one or more PEM CRLs (text or a file path), source stack with client
   * certificates: the stack writes them as crl.pem beside truststore.crt and nginx refuses
   * to start without them (CRL_REQUIRED=true). @default none
   */
  crl?: PemSource;
  /**
   * CRL_REQUIRED for nginx: certificate.crl is set, or certificate.crlRequired is true (source
   * external: crl.pem must be in your bucket). Without it a crl.pem that is there is still used.
   * @default false
   */
  crlRequired: boolean;
  /**
   * certificate.allowedClientSubjects: exact subject DNs as nginx prints them (RFC 2253, e.g.
   * "CN=pacs1,O=Hospital"); a verified certificate with another subject gets 403.
   * @default [] (any certificate chaining to the truststore)
   */
  allowedClientSubjects: string[];
}

/** The certificate fields this block reads (the certificate block lets them through). */
export const CERTIFICATE_OPTION_FIELDS = ["crl", "crlRequired", "allowedClientSubjects"] as const;
const MAX_SUBJECT_LENGTH = 1024;

export const certificateOptionsBlock = defineBlock({
  keys: [],
  read(r, earlier: { certificate: CertificateConfig }): { certificateOptions: CertificateOptions } {
    const key = "certificate";
    const none: CertificateOptions = { crlRequired: false, allowedClientSubjects: [] };
    let fields: Record<string, unknown> = {};
    try {
      const parsed = JSON.parse(r.raw(key) ?? "{}");
      if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) fields = parsed;
    } catch {
      /* the certificate block reports it */
    }
    const cert = earlier.certificate;
    const clientCertificates = usesClientCertificates(cert.authMode);
    const source = cert.mode === "FROMS3" ? cert.source : undefined;
    const given = CERTIFICATE_OPTION_FIELDS.filter((f) => fields[f] !== undefined);
    if (given.length === 0) return { certificateOptions: none };

    if (!clientCertificates) {
      for (const f of given) r.report(key, `${f} is only used with authMode clientauth or clientauth+oidc (client certificates)`);
    }

    let crl: PemSource | undefined;
    if (fields.crl !== undefined && clientCertificates) {
      if (source !== "stack") r.report(key, "crl is only used with source stack; with source external put crl.pem in your bucket and set crlRequired: true");
      else {
        crl = readPem(r, key, "crl", fields.crl);
        if (crl && !/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/.test(crl.pem)) {
          r.report(key, `crl ${crl.origin} holds no PEM CRL (-----BEGIN X509 CRL-----)`);
          crl = undefined;
        } else if (crl && /PRIVATE KEY-----/.test(crl.pem)) {
          r.report(key, `crl ${crl.origin} holds a private key; it must hold CRLs only`);
          crl = undefined;
        }
      }
    }

    let crlRequired = crl !== undefined;
    if (fields.crlRequired !== undefined && clientCertificates) {
      const value = fields.crlRequired === true || fields.crlRequired === "true" ? true : fields.crlRequired === false || fields.crlRequired === "false" ? false : undefined;
      if (value === undefined) r.report(key, `crlRequired must be true or false, got ${JSON.stringify(fields.crlRequired)}`);
      else if (source === "stack" && value && fields.crl === undefined) r.report(key, "crlRequired with source stack needs crl, the CRLs the stack writes as crl.pem");
      else if (source === "stack" && !value && fields.crl !== undefined) r.report(key, "crlRequired false with crl set: a CRL the stack writes is always required");
      else crlRequired = value || crlRequired;
    }

    const allowedClientSubjects: string[] = [];
    if (fields.allowedClientSubjects !== undefined && clientCertificates) {
      const list = fields.allowedClientSubjects;
      if (!Array.isArray(list)) r.report(key, `allowedClientSubjects must be a list of subject DNs like ["CN=pacs1,O=Hospital"], got ${JSON.stringify(list)}`);
      else {
        for (const dn of list) {
          const problem = subjectProblem(dn);
          if (problem) r.report(key, `allowedClientSubjects: ${problem}`);
          else if (!allowedClientSubjects.includes(dn)) allowedClientSubjects.push(dn);
        }
      }
    }

    return { certificateOptions: { crlRequired, allowedClientSubjects, ...(crl ? { crl } : {}) } };
  },
});

/** The checks nginx applies to ALLOWED_CLIENT_SUBJECTS (nginx/lib/settings.js), so the stack never writes one it refuses. */
function subjectProblem(dn: unknown): string | undefined {
  if (typeof dn !== "string" || dn.trim() === "") return `${JSON.stringify(dn)} is not a non-empty string`;
  if (/[\u0000-\u001f\u007f]/.test(dn)) return `${JSON.stringify(dn)} contains a control character, which no subject nginx prints has`;
  if (dn.length > MAX_SUBJECT_LENGTH) return `a subject is longer than ${MAX_SUBJECT_LENGTH} characters`;
  if (/^\s|(?<!\\)\s$/.test(dn)) return `"${dn}" has leading or trailing spaces, which nginx never prints`;
  if (!/^[A-Za-z0-9.]+=/.test(dn)) return `"${dn}" is not an RFC 2253 DN such as "CN=pacs1,O=Hospital"`;
  return undefined;
}
