// The front as it runs with bearer tokens, for end-to-end tests: a test OpenID provider on
// 127.0.0.1, the S3 test server holding the PKI's certificates in a bucket, the real app with
// OIDC_ISSUER pointing at the provider, and the front before it in the given AUTH_MODE.
import { startIssuer, makeSigningKey, type TestIssuer } from "../../app/test/support/oidc-issuer.js";
import { startS3rver, type S3rverHandle } from "../../app/test/support/s3rver.js";
import { startServiceProcess, type ServiceHandle } from "../../app/test/support/service.js";
import { certBucket, frontFiles } from "./bucket.js";
import { startFront, type FrontHandle } from "./front.js";
import type { Pki } from "./pki.js";

export const CERT_BUCKET = "front-certs";
export const AUDIENCE = "https://stow.test/dicomweb";

export interface OidcStack {
  issuer: TestIssuer;
  s3: S3rverHandle;
  service: ServiceHandle;
  /** One front per AUTH_MODE asked for. */
  fronts: Record<string, FrontHandle>;
  stop(): Promise<void>;
}

export async function startOidcStack(pki: Pki, authModes: Array<"oidc" | "clientauth+oidc">): Promise<OidcStack> {
  let issuer: TestIssuer | undefined;
  let s3: S3rverHandle | undefined;
  let service: ServiceHandle | undefined;
  const fronts: Record<string, FrontHandle> = {};
  const stop = async () => {
    for (const f of Object.values(fronts)) await f.stop().catch(() => undefined);
    await service?.stop().catch(() => undefined);
    await s3?.stop().catch(() => undefined);
    await issuer?.close().catch(() => undefined);
  };
  try {
    issuer = await startIssuer({ audience: AUDIENCE, keys: [await makeSigningKey("RS256", "front-test-key")] });
    s3 = await startS3rver();
    const certs = await certBucket(s3, CERT_BUCKET, frontFiles(pki));
    service = await startServiceProcess({ ...s3.env, LOGLEVEL: "INFO", OIDC_ISSUER: issuer.issuer, OIDC_AUDIENCE: AUDIENCE, METRICS_PORT: "0" });
    for (const mode of authModes) {
      fronts[mode] = await startFront({ env: { AUTH_MODE: mode, ...certs, UPSTREAM: `127.0.0.1:${service.port}` } });
    }
    return { issuer, s3, service, fronts, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
