// certificate: how TLS ends (ACM at the load balancer, or nginx with files from S3), who
// may store (authMode), and where nginx's files come from.
import { NAMESPACE } from "./reader";
import { defineBlock } from "./block";
import { AUTH_MODES, usesBearerTokens, usesClientCertificates, type AuthMode } from "./auth-mode";
import { checkServerPair, checkTruststore, isPlaceholderCa, readPem, serverLeaf, type PemSource } from "./certificate-files";
import { CERTIFICATE_OPTION_FIELDS } from "./certificate-options";
import { OPAQUE_SECRET } from "./secrets";

export type CertificateMode = "ACM" | "FROMS3";

export type CertificateConfig =
  | { mode: "ACM"; authMode: "anonymous" | "oidc"; arn: string }
  | {
      mode: "FROMS3";
      authMode: AuthMode;
      /** The stack writes the objects nginx reads into a bucket it makes (bucket: name prefix). */
      source: "stack";
      bucket: string;
      /** CA certificates client certificates must chain to; required with clientauth. */
      truststore?: PemSource;
      /**
       * Server certificate (chain) and key from config; absent: the stack generates one for the
       * NLB's name. The key is OPAQUE_SECRET when the offline tools read the stack file.
       */
      server?: { certificate: PemSource; key: string };
    }
  | {
      mode: "FROMS3";
      authMode: AuthMode;
      /** The operator keeps the files in an existing bucket, named exactly; the stack writes nothing there. */
      source: "external";
      bucket: string;
      /** The KMS key that bucket encrypts the files with, when it is the bucket's own (SSE-KMS): the task role may decrypt with it. */
      kmsKeyArn?: string;
    };

/** How nginx gets its server certificate; shown by the rehearsal and in the outputs. */
export function certificateSummary(c: CertificateConfig): string {
  if (c.mode === "ACM") return "ACM";
  if (c.source === "external") return "FROMS3 external bucket";
  return c.server ? "FROMS3 certificate from config" : "FROMS3 generated certificate";
}

const ACM_ARN = /^arn:aws[a-z-]*:acm:([a-z0-9-]+):(\d{12}):certificate\/[A-Za-z0-9-]+$/;
/** A key, not an alias: IAM grants kms:Decrypt on key ARNs only. */
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

const defaults = {
  /**
   * mode FROMS3 (nginx ends TLS with a certificate the stack generates for the load balancer's
   * name), authMode anonymous, source stack, bucket "<appName>-certs".
   * @default { mode: "FROMS3", authMode: "anonymous" }
   */
  certificate: { mode: "FROMS3", authMode: "anonymous" } as const,
};

export const certificateBlock = defineBlock({
  keys: ["certificate"],
  defaults,
  read(r, earlier: { appName: string; region: string }): {
    /**
     * Fields: mode (ACM | FROMS3, default FROMS3), authMode (anonymous | clientauth | oidc |
     * clientauth+oidc, default anonymous); ACM: arn (required); FROMS3: source (stack | external,
     * default stack), bucket (source stack: name prefix, default "<appName>-certs"; external:
     * exact name, required), truststore (PEM text or file path; required with clientauth),
     * serverCertificate + serverKey (both or neither; the key a secret; default: generated),
     * kmsKeyArn (source external: the ARN of the KMS key that bucket encrypts the files with,
     * when it is one of its own; the task role gets kms:Decrypt on it; default none: SSE-S3,
     * or a key whose policy already lets the task role decrypt).
     */
    certificate: CertificateConfig;
  } {
    const key = "certificate";
    const fallbackBucket = `${earlier.appName}-certs`;
    const fallback: CertificateConfig = { ...defaults.certificate, source: "stack", bucket: fallbackBucket };
    const fields = r.object(key, r.raw(key), `{ mode: FROMS3, authMode: anonymous }`, ["serverKey"]);
    if (fields === undefined) return { certificate: fallback };
    r.unknownFields(key, fields, ["mode", "authMode", "arn", "bucket", "source", "truststore", "serverCertificate", "serverKey", "kmsKeyArn", ...CERTIFICATE_OPTION_FIELDS]);
    const modeText = r.text(key, "mode", fields.mode, "FROMS3");
    const authMode = r.oneOf(key, r.text(key, "authMode", fields.authMode, "anonymous"), AUTH_MODES, "anonymous", "authMode");
    if (modeText !== "ACM" && modeText !== "FROMS3") {
      // The other fields only make sense once the mode is known.
      r.report(key, `mode must be one of ACM, FROMS3, got "${modeText}"`);
      return { certificate: fallback };
    }
    const mode = modeText;

    if (mode === "ACM") {
      if (usesClientCertificates(authMode)) {
        r.report(key, `${authMode} needs mode FROMS3 (the NLB cannot check client certificates, so TLS must pass through to nginx)`);
      }
      for (const f of ["bucket", "source", "truststore", "serverCertificate", "serverKey", "kmsKeyArn"]) {
        if (fields[f] !== undefined) r.report(key, `${f} is only used with mode FROMS3`);
      }
      const arn = r.text(key, "arn", fields.arn, "");
      if (arn === "") {
        r.report(key, "mode ACM needs arn (the ACM certificate for the NLB listener)");
        return { certificate: fallback };
      }
      const m = ACM_ARN.exec(arn);
      if (!m) {
        r.report(key, `arn "${arn}" is not an ACM certificate ARN`);
        return { certificate: fallback };
      }
      if (earlier.region !== "" && m[1] !== earlier.region) {
        r.report(key, `arn is in ${m[1]} but the stack deploys to ${earlier.region}; the NLB needs a certificate from its own region`);
      }
      return { certificate: { mode, authMode: usesBearerTokens(authMode) ? "oidc" : "anonymous", arn } };
    }

    if (fields.arn !== undefined) r.report(key, "arn is only used with mode ACM");
    const source = r.oneOf(key, r.text(key, "source", fields.source, "stack"), ["stack", "external"] as const, "stack", "source");
    if (source === "external") {
      for (const f of ["truststore", "serverCertificate", "serverKey"]) {
        if (fields[f] !== undefined) r.report(key, `${f} is only used with source stack; with source external the files live in the bucket you manage`);
      }
      const bucket = r.text(key, "bucket", fields.bucket, "");
      if (bucket === "") {
        r.report(key, "source external needs bucket: the exact name of the bucket holding certificate.crt, certificate.key and truststore.crt");
      } else if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes("..")) {
        r.report(key, `bucket "${bucket}" is not a valid S3 bucket name`);
      }
      const kmsKeyArn = r.text(key, "kmsKeyArn", fields.kmsKeyArn, "");
      if (kmsKeyArn !== "" && !KMS_KEY_ARN.test(kmsKeyArn)) {
        r.report(key, `kmsKeyArn "${kmsKeyArn}" is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>; an alias ARN grants nothing in an IAM policy)`);
      }
      return { certificate: { mode, authMode, source, bucket, ...(KMS_KEY_ARN.test(kmsKeyArn) ? { kmsKeyArn } : {}) } };
    }

    // A bucket the stack makes is encrypted with the stack's own key (or SSE-S3).
    if (fields.kmsKeyArn !== undefined) r.report(key, "kmsKeyArn is only used with source external: the bucket the stack makes uses SSE-S3");

    const bucket = r.bucketPrefix(key, fields.bucket, fallbackBucket, "bucket");
    const truststore = fields.truststore === undefined ? undefined : readPem(r, key, "truststore", fields.truststore);
    if (truststore) checkTruststore(r, key, truststore);
    if (usesClientCertificates(authMode) && fields.truststore === undefined) {
      r.report(
        key,
        `${authMode} needs a truststore source: set` +
          " certificate.truststore to the CA certificates (PEM text, or a file path) " +
          "that client certificates must chain to, or certificate.source external with the bucket you keep truststore.crt in",
      );
    }
    if (!usesClientCertificates(authMode) && truststore) r.report(key, "truststore is only used with authMode clientauth or clientauth+oidc");

    let server: { certificate: PemSource; key: string } | undefined;
    if ((fields.serverCertificate === undefined) !== (fields.serverKey === undefined)) {
      r.report(key, "serverCertificate and serverKey go together: set both (the key with --secret), or neither to have the stack generate a certificate");
    } else if (fields.serverCertificate !== undefined) {
      const certificate = readPem(r, key, "serverCertificate", fields.serverCertificate);
      if (!r.storedEncrypted(key, "serverKey", fields.serverKey)) {
        r.report(key, "serverKey must be stored encrypted: pulumi config set --secret --path stowrs-to-s3:certificate.serverKey -- \"$(cat server.key)\"");
      }
      if (fields.serverKey === OPAQUE_SECRET) {
        // Offline the key stays encrypted: the certificate is checked alone, the key goes through unseen.
        if (certificate && serverLeaf(r, key, certificate)) server = { certificate, key: OPAQUE_SECRET };
      } else {
        const keyText = r.text(key, "serverKey", fields.serverKey, "");
        const keyPem = keyText === "" || keyText.endsWith("\n") ? keyText : `${keyText}\n`;
        if (certificate && keyPem !== "" && checkServerPair(r, key, certificate, keyPem)) server = { certificate, key: keyPem };
      }
    }
    return { certificate: { mode, authMode, source, bucket, ...(truststore ? { truststore } : {}), ...(server ? { server } : {}) } };
  },
  placeholders({ certificate }) {
    if (certificate.mode === "FROMS3" && certificate.source === "stack" && certificate.truststore && isPlaceholderCa(certificate.truststore.pem)) {
      return [
        {
          key: `${NAMESPACE}:certificate`,
          message: `truststore ${certificate.truststore.origin} is the repository's placeholder CA, whose private key is public: anyone could make a client certificate it accepts; name your own CA`,
        },
      ];
    }
    return [];
  },
});
