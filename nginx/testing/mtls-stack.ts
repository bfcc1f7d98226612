// The front as it runs in a task, for end-to-end tests: the S3 test server holding the PKI's
// certificates in a bucket, the real app, and the mutual-TLS front before the app.
import { startS3rver, type S3rverHandle } from "../../app/test/support/s3rver.js";
import { startServiceProcess, type ServiceHandle } from "../../app/test/support/service.js";
import { certBucket, frontFiles } from "./bucket.js";
import { startFront, type FrontHandle } from "./front.js";
import type { Pki } from "./pki.js";

export const CERT_BUCKET = "front-certs";

export interface MtlsStack {
  s3: S3rverHandle;
  service: ServiceHandle;
  front: FrontHandle;
  /** Stops the front, the app and the S3 test server, whichever were started. */
  stop(): Promise<void>;
}

export interface MtlsStackOptions {
  /** More objects for the certificate bucket (e.g. crl.pem). */
  files?: Record<string, string>;
  /** More environment for the front (e.g. CRL_REQUIRED, ALLOWED_CLIENT_SUBJECTS). */
  env?: Record<string, string>;
}

export async function startMtlsStack(pki: Pki, options: MtlsStackOptions = {}): Promise<MtlsStack> {
  let s3: S3rverHandle | undefined;
  let service: ServiceHandle | undefined;
  let front: FrontHandle | undefined;
  const stop = async () => {
    await front?.stop().catch(() => undefined);
    await service?.stop().catch(() => undefined);
    await s3?.stop().catch(() => undefined);
  };
  try {
    s3 = await startS3rver();
    const certs = await certBucket(s3, CERT_BUCKET, { ...frontFiles(pki), ...options.files });
    service = await startServiceProcess({ ...s3.env, LOGLEVEL: "INFO" });
    front = await startFront({ env: { AUTH_MODE: "clientauth", ...certs, UPSTREAM: `127.0.0.1:${service.port}`, ...options.env } });
    return { s3, service, front, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
