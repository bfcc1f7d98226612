// Where TLS material comes from. ACM: the NLB holds the certificate and nothing is
// stored by the stack. FROMS3: nginx fetches its certificate, key and (for client
// authentication) the trust store from a private bucket made here; the operator puts
// the files there (see stacks/README.md).
import * as pulumi from "@pulumi/pulumi";
import type { CertificateConfig } from "./config";
import { createPrivateBucket, type EncryptionSpec } from "./storage";

export const CERTIFICATE_OBJECT = "certificate.crt";
export const KEY_OBJECT = "certificate.key";
export const TRUSTSTORE_OBJECT = "truststore.crt";

export interface CertificatesArgs {
  appName: string;
  certificate: CertificateConfig;
  encryption: EncryptionSpec;
  accessLogsBucket: pulumi.Input<string>;
}

export interface Certificates {
  mode: CertificateConfig["mode"];
  authMode: CertificateConfig["authMode"];
  /** ACM mode: the certificate the NLB listener presents. */
  acmCertificateArn?: string;
  /** FROMS3 mode: the bucket nginx reads from. */
  bucketName?: pulumi.Output<string>;
  /** Exactly the objects nginx needs; the task role may read these and nothing else there. */
  objectArns: pulumi.Output<string>[];
}

export function createCertificates(args: CertificatesArgs, opts: pulumi.CustomResourceOptions): Certificates {
  const cert = args.certificate;
  if (cert.mode === "ACM") {
    return { mode: cert.mode, authMode: cert.authMode, acmCertificateArn: cert.arn, objectArns: [] };
  }
  // Not retained: when the deployment goes, its private key should go with it.
  const bucket = createPrivateBucket(
    `${args.appName}-certificates`,
    {
      bucketPrefix: cert.bucket,
      encryption: args.encryption,
      retain: false,
      accessLogs: { bucket: args.accessLogsBucket, prefix: "certificates/" },
    },
    opts,
  );
  const objects = [CERTIFICATE_OBJECT, KEY_OBJECT, ...(cert.authMode === "clientauth" ? [TRUSTSTORE_OBJECT] : [])];
  return {
    mode: cert.mode,
    authMode: cert.authMode,
    bucketName: bucket.name,
    objectArns: objects.map((key) => pulumi.interpolate`${bucket.arn}/${key}`),
  };
}
