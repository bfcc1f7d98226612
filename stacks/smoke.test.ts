// The smoke test cannot reach AWS here, so it runs against a local deployment of the same
// parts: the app, the mutual-TLS front (Debian's nginx) and an S3-compatible store, with
// the stack outputs handed over as a file instead of `pulumi stack output --json`.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makePki, type Pki } from "../nginx/testing/pki";
import { startMtlsStack, type MtlsStack } from "../nginx/testing/mtls-stack";
import { startOidcStack, type OidcStack } from "../nginx/testing/oidc-stack";

const REPO = path.resolve(__dirname, "..");
const run = promisify(execFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "smoke-test-"));
let pki: Pki;
let stack: MtlsStack;

beforeAll(async () => {
  pki = makePki(tmp);
  stack = await startMtlsStack(pki);
});
afterAll(async () => {
  await stack?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function outputsFile(extra: Record<string, unknown> = {}): string {
  const file = path.join(tmp, `outputs-${Math.random().toString(36).slice(2)}.json`);
  const outputs = {
    serviceUrl: stack.front.url,
    dicomBucketName: stack.s3.bucket,
    dicomPrefix: "",
    authMode: "clientauth",
    certificateMode: "FROMS3",
    serverCertificate: pki.server.certPem,
    ...extra,
  };
  fs.writeFileSync(file, JSON.stringify(outputs));
  return file;
}

async function smoke(args: string[]) {
  const { S3_ENDPOINT, S3_FORCE_PATH_STYLE, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY } = stack.s3.env;
  const env = { ...process.env, S3_ENDPOINT, S3_FORCE_PATH_STYLE, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY };
  try {
    const { stdout } = await run("npm", ["run", "--silent", "smoke", "--", ...args], { cwd: REPO, env });
    return { code: 0, last: stdout.trimEnd().split("\n").at(-1)!, stdout };
  } catch (err: any) {
    return { code: err.code as number, last: String(err.stdout).trimEnd().split("\n").at(-1)!, stdout: String(err.stdout) };
  }
}

describe("npm run smoke", () => {
  it("stores the samples through serviceUrl with the client certificate and verifies size and sha256 in the bucket", async () => {
    const r = await smoke(["prod", "--outputs", outputsFile(), "--client-cert", pki.client.cert, "--client-key", pki.client.key]);
    expect(r.last).toBe(`smoke prod: 3/3 instances stored through ${stack.front.url} and verified in s3://${stack.s3.bucket}/ (size, sha256)`);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("tls: server certificate must be the stack's own");
  });

  it("verifies the server with --ca instead of the pinned certificate", async () => {
    const r = await smoke(["prod", "--outputs", outputsFile({ serverCertificate: "(not known to the stack)" }), "--ca", pki.ca.cert, "--client-cert", pki.client.cert, "--client-key", pki.client.key]);
    expect(r.code, r.stdout).toBe(0);
  });

  it("fails, naming the refusal, with a client certificate the front does not trust", async () => {
    const r = await smoke(["prod", "--outputs", outputsFile(), "--client-cert", pki.strangerClient.cert, "--client-key", pki.strangerClient.key]);
    expect(r.code).toBe(1);
    expect(r.last).toMatch(/^smoke prod: FAILED: POST https:\/\/127\.0\.0\.1:\d+\/studies answered HTTP 400: The client certificate was not accepted/);
  });

  it("fails when the server is not the stack's own certificate", async () => {
    const r = await smoke(["prod", "--outputs", outputsFile({ serverCertificate: pki.ca.certPem }), "--client-cert", pki.client.cert, "--client-key", pki.client.key]);
    expect(r.code).toBe(1);
    expect(r.last).toMatch(/FAILED: POST .* failed: the server presented "localhost" .*not the stack's certificate/);
  });

  it("fails when an acknowledged object is not where the stack says (another prefix)", async () => {
    const r = await smoke(["prod", "--outputs", outputsFile({ dicomPrefix: "elsewhere" }), "--client-cert", pki.client.cert, "--client-key", pki.client.key]);
    expect(r.code).toBe(1);
    expect(r.last).toMatch(/^smoke prod: FAILED: ct-1\.dcm acknowledged, but s3:\/\/dicom\/elsewhere\/.*\.dcm cannot be read: NotFound/);
  });

  it("asks for a client certificate when the stack uses clientauth", async () => {
    const r = await smoke(["prod", "--outputs", outputsFile()]);
    expect(r.code).toBe(1);
    expect(r.last).toBe("smoke prod: FAILED: the stack uses clientauth: give --client-cert and --client-key");
  });
});

describe("npm run smoke against a stack with clientauth+oidc", () => {
  let oidc: OidcStack;
  beforeAll(async () => {
    oidc = await startOidcStack(pki, ["clientauth+oidc"]);
  });
  afterAll(async () => {
    await oidc?.stop();
  });

  const run = async (args: string[]) => {
    const file = path.join(tmp, `outputs-oidc-${Math.random().toString(36).slice(2)}.json`);
    const front = oidc.fronts["clientauth+oidc"];
    fs.writeFileSync(file, JSON.stringify({ serviceUrl: front.url, dicomBucketName: oidc.s3.bucket, dicomPrefix: "", authMode: "clientauth+oidc", serverCertificate: pki.server.certPem }));
    const { S3_ENDPOINT, S3_FORCE_PATH_STYLE, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY } = oidc.s3.env;
    const env = { ...process.env, S3_ENDPOINT, S3_FORCE_PATH_STYLE, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY };
    try {
      const { stdout } = await promisify(execFile)("npm", ["run", "--silent", "smoke", "--", "prod", "--outputs", file, ...args], { cwd: REPO, env });
      return { code: 0, last: stdout.trimEnd().split("\n").at(-1)!, stdout };
    } catch (err: any) {
      return { code: err.code as number, last: String(err.stdout).trimEnd().split("\n").at(-1)!, stdout: String(err.stdout) };
    }
  };
  const cert = () => ["--client-cert", pki.client.cert, "--client-key", pki.client.key];

  it("asks for a token file", async () => {
    const r = await run(cert());
    expect(r.code).toBe(1);
    expect(r.last).toMatch(/^smoke prod: FAILED: the stack uses clientauth\+oidc: give --token-file/);
  });

  it("stores and verifies the samples with the client certificate and a token from the issuer", async () => {
    const tokenFile = path.join(tmp, "token");
    fs.writeFileSync(tokenFile, `${await oidc.issuer.token()}\n`, { mode: 0o600 });
    const r = await run([...cert(), "--token-file", tokenFile]);
    expect(r.last, r.stdout).toMatch(/^smoke prod: 3\/3 instances stored through https:\/\/127\.0\.0\.1:\d+ and verified/);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(fs.readFileSync(tokenFile, "utf8").trim());
  });
});
