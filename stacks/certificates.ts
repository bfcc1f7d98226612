// Where TLS material comes from. ACM: the NLB holds the certificate and nothing is
// stored by the stack. FROMS3: nginx reads certificate.crt, certificate.key and (client
// authentication) truststore.crt from a bucket when a task starts. With source "stack"
// the stack writes those objects itself, from config or from a certificate it generates
// for the load balancer's name, so the first `pulumi up` leaves a working endpoint; with
// source "external" they live in a bucket the operator manages and names.
import { createHash, X509Certificate } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as tls from "@pulumi/tls";
import { usesClientCertificates, type CertificateConfig, type PemSource } from "./config";
import { warnBeforeRenewal } from "./certificate-renewal";
import { createPrivateBucket, type EncryptionSpec } from "./storage";

export const CERTIFICATE_OBJECT = "certificate.crt";
export const KEY_OBJECT = "certificate.key";
export const TRUSTSTORE_OBJECT = "truststore.crt";
/** Revocation lists beside the truststore; nginx reads it whenever client certificates are checked (CRL_REQUIRED says whether it must exist). */
export const CRL_OBJECT = "crl.pem";

/** A generated certificate is valid for a year and replaced by the first `pulumi up` in its last 30 days. */
export const GENERATED_VALIDITY_HOURS = 365 * 24;
export const GENERATED_RENEWAL_HOURS = 30 * 24;

export interface CertificatesArgs {
  appName: string;
  certificate: CertificateConfig;
  /** Revocation lists the stack writes as crl.pem (certificate.crl; source stack with client certificates). */
  crl?: PemSource;
  accessLogsBucket: pulumi.Input<string>;
  /** The name clients use (the NLB's DNS name): a generated certificate is made for it. */
  serverName: pulumi.Input<string>;
  /**
   * Provider for the certificate objects: one whose default tags fit S3's 10 per object
   * (see object-tags.ts). Defaults to the provider in opts.
   */
  objectProvider?: pulumi.ProviderResource;
  /** The time renewal warnings are judged at (tests); default: now. */
  now?: () => Date;
}

export interface Certificates {
  mode: CertificateConfig["mode"];
  authMode: CertificateConfig["authMode"];
  /** ACM mode: the certificate the NLB listener presents. */
  acmCertificateArn?: string;
  /** FROMS3 mode: the bucket nginx reads from. */
  bucketName?: pulumi.Output<string>;
  /** An external bucket's own KMS key (certificate.kmsKeyArn): the task role needs kms:Decrypt on it to read the files. */
  kmsKeyArn?: string;
  /** Exactly the objects nginx needs; the task role may read these and nothing else there. */
  objectArns: pulumi.Output<string>[];
  /** The objects the stack wrote (source stack); the service waits for them. */
  objects: pulumi.Resource[];
  /** SHA-256 over the written objects' keys and contents: a change restarts the tasks. Absent when the stack writes none. */
  contentSha256?: pulumi.Output<string>;
  /** The server certificate (PEM, public) when the stack knows it, for clients to pin. */
  serverCertificatePem?: pulumi.Output<string>;
  /** When that certificate expires (ISO 8601), when the stack knows it. */
  serverCertificateNotAfter?: pulumi.Output<string>;
}

/**
 * The encryption named on each object, as the bucket's default would apply it: stated, so
 * the object is encrypted as intended even if it were written before the default, and the
 * plan shows it.
 */
/** The certificate bucket holds no PHI, so it never uses the DICOM key (whose users are the task role and the data readers). */
const CERTIFICATE_ENCRYPTION: EncryptionSpec = { kind: "SSE-S3" };

export function objectEncryption(encryption: EncryptionSpec): Pick<aws.s3.BucketObjectv2Args, "serverSideEncryption" | "kmsKeyId" | "bucketKeyEnabled"> {
  return encryption.kind === "SSE-KMS"
    ? { serverSideEncryption: "aws:kms", kmsKeyId: encryption.keyArn, bucketKeyEnabled: true }
    : { serverSideEncryption: "AES256" };
}

export function createCertificates(args: CertificatesArgs, opts: pulumi.CustomResourceOptions): Certificates {
  const cert = args.certificate;
  if (cert.mode === "ACM") {
    return { mode: cert.mode, authMode: cert.authMode, acmCertificateArn: cert.arn, objectArns: [], objects: [] };
  }
  const names = [CERTIFICATE_OBJECT, KEY_OBJECT, ...(usesClientCertificates(cert.authMode) ? [TRUSTSTORE_OBJECT, CRL_OBJECT] : [])];

  if (cert.source === "external") {
    // ARNs of a named bucket are known without looking it up: arn:aws:s3:::<bucket>/<key>.
    const partition = aws.getPartitionOutput({}, { provider: opts.provider }).partition;
    return {
      mode: cert.mode,
      authMode: cert.authMode,
      bucketName: pulumi.output(cert.bucket),
      ...(cert.kmsKeyArn ? { kmsKeyArn: cert.kmsKeyArn } : {}),
      objectArns: names.map((key) => pulumi.interpolate`arn:${partition}:s3:::${cert.bucket}/${key}`),
      objects: [],
    };
  }

  // Not retained: when the deployment goes, its private key should go with it. SSE-S3, never
  // the DICOM key: that key's users are the task role and the data readers, for PHI only.
  const bucket = createPrivateBucket(
    `${args.appName}-certificates`,
    {
      bucketPrefix: cert.bucket,
      encryption: CERTIFICATE_ENCRYPTION,
      retain: false,
      accessLogs: { bucket: args.accessLogsBucket, prefix: "certificates/" },
    },
    opts,
  );

  let certificatePem: pulumi.Output<string>;
  let keyPem: pulumi.Output<string>;
  let notAfter: pulumi.Output<string>;
  if (cert.server) {
    certificatePem = pulumi.output(cert.server.certificate.pem);
    keyPem = pulumi.secret(cert.server.key);
    notAfter = pulumi.output(new Date(new X509Certificate(cert.server.certificate.pem).validTo).toISOString());
    warnBeforeRenewal("configured", notAfter, GENERATED_RENEWAL_HOURS, args.now);
  } else {
    // tls resources make no cloud calls; they take the default provider of their own package.
    const key = new tls.PrivateKey(`${args.appName}-server`, { algorithm: "RSA", rsaBits: 2048 });
    const generated = new tls.SelfSignedCert(`${args.appName}-server`, {
      privateKeyPem: key.privateKeyPem,
      subject: { commonName: args.appName, organization: "stowrs-to-s3" },
      dnsNames: [args.serverName],
      validityPeriodHours: GENERATED_VALIDITY_HOURS,
      earlyRenewalHours: GENERATED_RENEWAL_HOURS,
      allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
    });
    certificatePem = generated.certPem;
    keyPem = pulumi.secret(key.privateKeyPem);
    notAfter = generated.validityEndTime;
    // Unknown in a preview of a new stack; known from the state on every later one.
    warnBeforeRenewal("generated", notAfter, GENERATED_RENEWAL_HOURS, args.now);
  }

  const contents: [string, pulumi.Output<string>][] = [
    [CERTIFICATE_OBJECT, certificatePem],
    [KEY_OBJECT, keyPem],
    ...(usesClientCertificates(cert.authMode) && cert.truststore ? [[TRUSTSTORE_OBJECT, pulumi.output(cert.truststore.pem)] as [string, pulumi.Output<string>]] : []),
    // A new CRL is a new digest, so the tasks restart and nginx loads it.
    ...(usesClientCertificates(cert.authMode) && args.crl ? [[CRL_OBJECT, pulumi.output(args.crl.pem)] as [string, pulumi.Output<string>]] : []),
  ];
  const objects = contents.map(
    ([key, content]) =>
      new aws.s3.BucketObjectv2(
        `${args.appName}-${key.replace(".", "-")}`,
        { bucket: bucket.name, key, content, contentType: "application/x-pem-file", ...objectEncryption(CERTIFICATE_ENCRYPTION) },
        {
          ...opts,
          provider: args.objectProvider ?? opts.provider,
          // The inputs need only the bucket's name, which exists before its default
          // encryption, policy and public access block do; the private key must not.
          dependsOn: bucket.posture,
        },
      ),
  );

  // One-way digest: publishing it does not reveal the key, and keeping it out of the
  // secrets keeps the task definition readable in previews.
  const contentSha256 = pulumi.unsecret(
    pulumi.all(contents.map(([key, content]) => pulumi.all([key, content]))).apply((pairs) => {
      const hash = createHash("sha256");
      for (const [key, content] of pairs) hash.update(`${key}\0${content}\0`);
      return hash.digest("hex");
    }),
  );

  return {
    mode: cert.mode,
    authMode: cert.authMode,
    bucketName: bucket.name,
    objectArns: names.map((key) => pulumi.interpolate`${bucket.arn}/${key}`),
    objects,
    contentSha256,
    serverCertificatePem: certificatePem,
    serverCertificateNotAfter: notAfter,
  };
}
