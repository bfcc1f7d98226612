// nginx/render as a process against a real S3 test server: what it writes,
// and that every way of being misconfigured stops the front from starting.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3rver, type S3rverHandle } from "../app/test/support/s3rver.js";
import { certBucketEnv, createBucket, putFiles } from "./testing/bucket.js";
import { ENTRYPOINT, makeOutDir, runRender as runRenderIn } from "./testing/front.js";
import { freePort, isListening } from "./testing/net.js";
import { makePki, type Pki } from "./testing/pki.js";

let s3: S3rverHandle;
let pki: Pki;
let pkiDir: string;
let bucketCount = 0;
const made = new Set<string>();

async function runRender(env: Record<string, string>, outDir?: string) {
  const result = await runRenderIn(env, outDir);
  made.add(dirname(result.outDir));
  return result;
}

beforeAll(async () => {
  pkiDir = mkdtempSync(join(tmpdir(), "front-pki-"));
  pki = makePki(pkiDir);
  s3 = await startS3rver();
});

afterAll(async () => {
  await s3?.stop();
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  rmSync(pkiDir, { recursive: true, force: true });
});

/** A fresh bucket holding the given files. */
async function bucketWith(files: Record<string, string>): Promise<string> {
  const bucket = `certs-${++bucketCount}`;
  await createBucket(s3.client, bucket);
  await putFiles(s3.client, bucket, files);
  return bucket;
}

const fullSet = () => ({
  "certificate.crt": pki.server.certPem,
  "certificate.key": pki.server.keyPem,
  "truststore.crt": pki.ca.certPem,
});

const ports = { UPSTREAM: "127.0.0.1:9", LISTEN: "127.0.0.1:18443", HEALTH_LISTEN: "127.0.0.1:18081" };

function expectNothingWritten(outDir: string) {
  expect(existsSync(join(outDir, "nginx.conf"))).toBe(false);
  expect(existsSync(join(outDir, "nginx.conf.new"))).toBe(false);
  expect(existsSync(join(outDir, "tls"))).toBe(false);
}

describe("FROMS3", () => {
  it("writes the bucket's certificates and a clientauth configuration that nginx accepts", async () => {
    const bucket = await bucketWith(fullSet());
    const result = await runRender({ ...certBucketEnv(s3, bucket), AUTH_MODE: "clientauth", ...ports });
    expect(result.code, result.output).toBe(0);
    const tls = join(result.outDir, "tls");
    expect(readFileSync(join(tls, "certificate.crt"), "utf8")).toBe(pki.server.certPem);
    expect(readFileSync(join(tls, "certificate.key"), "utf8")).toBe(pki.server.keyPem);
    expect(readFileSync(join(tls, "truststore.crt"), "utf8")).toBe(pki.ca.certPem);
    expect(statSync(join(tls, "certificate.key")).mode & 0o077).toBe(0);
    const conf = readFileSync(join(result.outDir, "nginx.conf"), "utf8");
    expect(conf).toContain("ssl_verify_client on;");
    expect(conf).toContain(`ssl_client_certificate ${join(tls, "truststore.crt")};`);
    expect(result.output).not.toContain("WARNING");
    // The configuration is complete on its own: nginx -t passes as root too.
    execFileSync("nginx", ["-t", "-q", "-p", result.outDir, "-c", join(result.outDir, "nginx.conf"), "-e", "stderr"]);
  });

  it("reads the files under CERT_PREFIX", async () => {
    const bucket = await bucketWith(
      Object.fromEntries(Object.entries(fullSet()).map(([k, v]) => [`front/prod/${k}`, v])),
    );
    const result = await runRender({ ...certBucketEnv(s3, bucket), CERT_PREFIX: "front/prod", AUTH_MODE: "clientauth", ...ports });
    expect(result.code, result.output).toBe(0);
    const bare = await runRender({ ...certBucketEnv(s3, bucket), AUTH_MODE: "clientauth", ...ports });
    expect(bare.code).toBe(1);
  });

  it("fails when truststore.crt is missing in clientauth mode, and removes an earlier configuration", async () => {
    const bucket = await bucketWith(fullSet());
    const env = { ...certBucketEnv(s3, bucket), AUTH_MODE: "clientauth", ...ports };
    const first = await runRender(env);
    expect(first.code, first.output).toBe(0);
    expect(existsSync(join(first.outDir, "nginx.conf"))).toBe(true);

    await putFiles(s3.client, bucket, { "truststore.crt": null });
    const second = await runRender(env, dirname(first.outDir));
    expect(second.code).toBe(1);
    expect(second.output).toContain(`s3://${bucket}/truststore.crt does not exist`);
    expect(second.output).toContain("refusing to start without client-certificate checks");
    expectNothingWritten(second.outDir);
  });

  it("entrypoint: a missing truststore stops start-up and nothing listens", async () => {
    const bucket = await bucketWith({ "certificate.crt": pki.server.certPem, "certificate.key": pki.server.keyPem });
    const port = await freePort();
    const healthPort = await freePort();
    const dir = makeOutDir();
    made.add(dir);
    const child = spawn(ENTRYPOINT, [], {
      env: {
        PATH: process.env.PATH!,
        HOME: dir,
        OUT_DIR: join(dir, "out"),
        ...certBucketEnv(s3, bucket),
        AUTH_MODE: "clientauth",
        UPSTREAM: "127.0.0.1:9",
        LISTEN: `127.0.0.1:${port}`,
        HEALTH_LISTEN: `127.0.0.1:${healthPort}`,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stderr.on("data", (d) => (output += d));
    let listened = false;
    const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
    let done = false;
    void exited.then(() => (done = true));
    while (!done) {
      listened ||= (await isListening(port)) || (await isListening(healthPort));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await exited).not.toBe(0);
    expect(output).toContain("truststore.crt does not exist");
    expect(listened).toBe(false);
    expect(await isListening(port)).toBe(false);
    expect(await isListening(healthPort)).toBe(false);
    expectNothingWritten(join(dir, "out"));
  });

  it("anonymous mode does not need a truststore", async () => {
    const bucket = await bucketWith({ "certificate.crt": pki.server.certPem, "certificate.key": pki.server.keyPem });
    const result = await runRender({ ...certBucketEnv(s3, bucket), AUTH_MODE: "anonymous", ...ports });
    expect(result.code, result.output).toBe(0);
    const conf = readFileSync(join(result.outDir, "nginx.conf"), "utf8");
    expect(conf).not.toContain("ssl_verify_client");
    expect(existsSync(join(result.outDir, "tls", "truststore.crt"))).toBe(false);
  });

  it("falls back to a self-signed certificate, with a warning, when the bucket has no server certificate", async () => {
    const bucket = await bucketWith({ "truststore.crt": pki.ca.certPem });
    const result = await runRender({ ...certBucketEnv(s3, bucket), AUTH_MODE: "clientauth", ...ports });
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/WARNING: no certificate\.crt\/certificate\.key under s3:\/\/certs-\d+\/: serving a self-signed/);
    const cert = readFileSync(join(result.outDir, "tls", "certificate.crt"), "utf8");
    const text = execFileSync("openssl", ["x509", "-noout", "-subject", "-issuer"], { input: cert, encoding: "utf8" });
    expect(text).toContain("self-signed");
    expect(cert).not.toBe(pki.server.certPem);
  });

  it("makes a new self-signed key at every start", async () => {
    const bucket = await bucketWith({});
    const env = { ...certBucketEnv(s3, bucket), AUTH_MODE: "anonymous", ...ports };
    const a = await runRender(env);
    const b = await runRender(env);
    expect(a.code, a.output).toBe(0);
    expect(b.code, b.output).toBe(0);
    const keyA = readFileSync(join(a.outDir, "tls", "certificate.key"), "utf8");
    const keyB = readFileSync(join(b.outDir, "tls", "certificate.key"), "utf8");
    expect(keyA).toContain("PRIVATE KEY");
    expect(keyA).not.toBe(keyB);
  });

  const broken: Array<[string, () => Record<string, string>, RegExp]> = [
    [
      "a key without its certificate",
      () => ({ "certificate.key": pki.server.keyPem, "truststore.crt": pki.ca.certPem }),
      /certificate\.crt does not exist but s3:\/\/certs-\d+\/certificate\.key does; upload both or neither/,
    ],
    [
      "a certificate without its key",
      () => ({ "certificate.crt": pki.server.certPem, "truststore.crt": pki.ca.certPem }),
      /certificate\.key does not exist but .*certificate\.crt does/,
    ],
    [
      "a key that belongs to another certificate",
      () => ({ ...fullSet(), "certificate.key": pki.client.keyPem }),
      /certificate\.key does not belong to the first certificate in certificate\.crt/,
    ],
    [
      "a certificate file that is not PEM",
      () => ({ ...fullSet(), "certificate.crt": "not a certificate\n" }),
      /certificate\.crt holds no PEM certificate/,
    ],
    [
      "a corrupt certificate",
      () => ({ ...fullSet(), "certificate.crt": pki.server.certPem.replace(/\n[A-Za-z0-9+/]{20}/, "\nAAAAAAAAAAAAAAAAAAAA") }),
      /certificate\.crt: certificate #1 cannot be parsed/,
    ],
    [
      "an empty truststore",
      () => ({ ...fullSet(), "truststore.crt": "" }),
      /truststore\.crt holds no PEM certificate/,
    ],
    [
      "a truststore that holds a private key",
      () => ({ ...fullSet(), "truststore.crt": pki.ca.certPem + pki.ca.keyPem }),
      /truststore\.crt contains a private key/,
    ],
  ];
  for (const [name, files, message] of broken) {
    it(`fails on ${name}`, async () => {
      const bucket = await bucketWith(files());
      const result = await runRender({ ...certBucketEnv(s3, bucket), AUTH_MODE: "clientauth", ...ports });
      expect(result.code).toBe(1);
      expect(result.output).toMatch(message);
      expect(result.output).toContain("no nginx configuration written");
      expectNothingWritten(result.outDir);
    });
  }

  it("fails on an encrypted key", async () => {
    const encrypted = execFileSync("openssl", ["pkey", "-in", pki.server.key, "-aes256", "-passout", "pass:secret"], {
      encoding: "utf8",
    });
    const bucket = await bucketWith({ ...fullSet(), "certificate.key": encrypted });
    const result = await runRender({ ...certBucketEnv(s3, bucket), AUTH_MODE: "clientauth", ...ports });
    expect(result.code).toBe(1);
    expect(result.output).toContain("certificate.key is encrypted");
    expectNothingWritten(result.outDir);
  });

  it("fails when the bucket does not exist", async () => {
    const result = await runRender({ ...certBucketEnv(s3, "no-such-bucket"), AUTH_MODE: "anonymous", ...ports });
    expect(result.code).toBe(1);
    expect(result.output).toContain('bucket "no-such-bucket" does not exist');
    expectNothingWritten(result.outDir);
  });

  it("fails when the credentials are refused", async () => {
    const bucket = await bucketWith(fullSet());
    const result = await runRender({
      ...certBucketEnv(s3, bucket),
      AWS_ACCESS_KEY_ID: "NOT-A-KEY",
      AUTH_MODE: "clientauth",
      ...ports,
    });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/cannot read s3:\/\/certs-\d+\/(certificate|truststore)\.(crt|key): access denied \(InvalidAccessKeyId/);
    expectNothingWritten(result.outDir);
  });

  it("fails when S3 cannot be reached", async () => {
    const closed = await freePort();
    const result = await runRender({
      ...certBucketEnv(s3, "certs"),
      S3_ENDPOINT: `http://127.0.0.1:${closed}`,
      AUTH_MODE: "anonymous",
      ...ports,
    });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/cannot read s3:\/\/certs\/certificate\.(crt|key)/);
    expectNothingWritten(result.outDir);
  });
});

describe("revocation (crl.pem) and the subject allowlist", () => {
  const clientauth = async (files: Record<string, string>, env: Record<string, string> = {}) => {
    const bucket = await bucketWith(files);
    return { bucket, result: await runRender({ ...certBucketEnv(s3, bucket), AUTH_MODE: "clientauth", ...ports, ...env }) };
  };

  it("writes crl.pem beside the truststore and loads it as ssl_crl, saying what it holds", async () => {
    const { result } = await clientauth({ ...fullSet(), "crl.pem": pki.crl.current }, { CRL_REQUIRED: "true" });
    expect(result.code, result.output).toBe(0);
    expect(readFileSync(join(result.outDir, "tls", "crl.pem"), "utf8")).toBe(pki.crl.current);
    const conf = readFileSync(join(result.outDir, "nginx.conf"), "utf8");
    expect(conf).toContain(`ssl_crl ${join(result.outDir, "tls", "crl.pem")};`);
    expect(result.output).toMatch(/revocation: CRL of "CN=Trusted Test CA,O=Front Test" with 1 revoked certificate\(s\), issued \S+, next update \S+/);
    expect(result.output).not.toMatch(/WARNING|ERROR/);
  });

  it("uses a crl.pem it finds even when CRL_REQUIRED is false; without one it says revocation is not checked", async () => {
    const used = await clientauth({ ...fullSet(), "crl.pem": pki.crl.current });
    expect(used.result.code, used.result.output).toBe(0);
    expect(readFileSync(join(used.result.outDir, "nginx.conf"), "utf8")).toContain("ssl_crl ");
    const none = await clientauth(fullSet());
    expect(none.result.code, none.result.output).toBe(0);
    expect(none.result.output).toMatch(/no s3:\/\/certs-\d+\/crl\.pem: client certificates are not checked for revocation/);
    expect(readFileSync(join(none.result.outDir, "nginx.conf"), "utf8")).not.toContain("ssl_crl");
  });

  it("CRL_REQUIRED=true without crl.pem fails closed, like a missing truststore, and removes an earlier configuration", async () => {
    const { bucket, result: first } = await clientauth({ ...fullSet(), "crl.pem": pki.crl.current }, { CRL_REQUIRED: "true" });
    expect(first.code, first.output).toBe(0);
    await putFiles(s3.client, bucket, { "crl.pem": null });
    const env = { ...certBucketEnv(s3, bucket), AUTH_MODE: "clientauth", CRL_REQUIRED: "true", ...ports };
    const second = await runRender(env, dirname(first.outDir));
    expect(second.code).toBe(1);
    expect(second.output).toContain(`CRL_REQUIRED=true but s3://${bucket}/crl.pem does not exist; refusing to start without revocation checks`);
    expectNothingWritten(second.outDir);
  });

  const unusable: Array<[string, () => string, RegExp]> = [
    ["a crl.pem that is not PEM", () => "revoked: modality-3\n", /crl\.pem holds no PEM CRL/],
    ["a CRL that does not parse", () => "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", /crl\.pem cannot be read as a CRL/],
    ["a CRL no trusted CA signed", () => pki.crl.otherCa, /crl\.pem \(issuer "CN=Unknown Test CA,O=Front Test"\) is not signed by a CA in truststore\.crt/],
    ["a certificate hidden in crl.pem (nginx would trust it)", () => pki.crl.current + pki.otherCa.certPem, /crl\.pem holds CERTIFICATE blocks; it must hold CRLs only/],
  ];
  for (const [name, crl, message] of unusable) {
    for (const required of ["true", "false"]) {
      it(`fails on ${name} (CRL_REQUIRED=${required})`, async () => {
        const { result } = await clientauth({ ...fullSet(), "crl.pem": crl() }, { CRL_REQUIRED: required });
        expect(result.code).toBe(1);
        expect(result.output).toMatch(message);
        expectNothingWritten(result.outDir);
      });
    }
  }

  it("starts with an expired CRL but logs an ERROR naming the issuer, the date and what nginx will do", async () => {
    const { result } = await clientauth({ ...fullSet(), "crl.pem": pki.crl.expired }, { CRL_REQUIRED: "true" });
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain(
      `ERROR: s3://${result.output.match(/s3:\/\/(certs-\d+)\//)![1]}/crl.pem: the CRL of "CN=Trusted Test CA,O=Front Test" expired at ${pki.crl.expiredNextUpdate} (its nextUpdate). ` +
        "nginx now refuses EVERY client certificate issued by",
    );
  });

  it("warns that a trusted CA without a CRL will have all its clients refused", async () => {
    const { result } = await clientauth({ ...fullSet(), "truststore.crt": pki.ca.certPem + pki.otherCa.certPem, "crl.pem": pki.crl.current });
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/WARNING: s3:\/\/certs-\d+\/crl\.pem has no CRL from "CN=Unknown Test CA,O=Front Test"/);
  });

  it("renders ALLOWED_CLIENT_SUBJECTS into a configuration nginx accepts, and names them", async () => {
    const subjects = [pki.client.dn, 'CN=Smith\\, John (CT.1) "east" $x+OU=a,O=H'];
    const { result } = await clientauth(fullSet(), { ALLOWED_CLIENT_SUBJECTS: JSON.stringify(subjects) });
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain(`only these client certificate subjects may send (ALLOWED_CLIENT_SUBJECTS): "${subjects[0]}"; "${subjects[1]}"`);
    expect(readFileSync(join(result.outDir, "nginx.conf"), "utf8")).toContain("$front_client_allowed");
  });
});

describe("ACM", () => {
  it("serves a self-signed certificate for the load balancer's hop, with a warning", async () => {
    const result = await runRender({ AUTH_MODE: "anonymous", CERT_MODE: "ACM", ...ports });
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain("WARNING: CERT_MODE=ACM");
    expect(readFileSync(join(result.outDir, "tls", "certificate.crt"), "utf8")).toContain("BEGIN CERTIFICATE");
  });

  it("refuses clientauth, which the load balancer cannot pass through", async () => {
    const result = await runRender({ AUTH_MODE: "clientauth", CERT_MODE: "ACM", ...ports });
    expect(result.code).toBe(2);
    expect(result.output).toContain("AUTH_MODE=clientauth needs CERT_MODE=FROMS3");
    expectNothingWritten(result.outDir);
  });
});

describe("environment", () => {
  it("lists every problem at once and writes nothing", async () => {
    const result = await runRender({ AUTH_MODE: "mutual", CERT_MODE: "FROMS3", LISTEN: "443", MAX_REQUEST_BYTES: "-1" });
    expect(result.code).toBe(2);
    expect(result.output).toContain('AUTH_MODE="mutual" is not one of anonymous, clientauth');
    expect(result.output).toContain("CERT_MODE=FROMS3 needs CERT_BUCKET");
    expect(result.output).toContain('LISTEN="443" is not host:port');
    expect(result.output).toContain('MAX_REQUEST_BYTES="-1" must be a whole number >= 0');
    expectNothingWritten(result.outDir);
  });
});
