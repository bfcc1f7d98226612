// The front with a read-only root file system, as the task definition runs it
// (readonlyRootFilesystem: true): render and nginx write only into OUT_DIR, here a tmpfs
// standing for the task's writable volume. A private mount namespace makes / read-only for
// the front alone; it runs as nobody, as in the other tests. Needs root (unshare, mount).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3rver, type S3rverHandle } from "../app/test/support/s3rver.js";
import { certBucket, frontFiles } from "./testing/bucket.js";
import { send } from "./testing/client.js";
import { ENTRYPOINT, startFront, type FrontHandle, type Launcher } from "./testing/front.js";
import { makePki, type Pki } from "./testing/pki.js";
import { probeTls } from "./testing/tls-probe.js";
import { startRecordingUpstream, type RecordingUpstream } from "./testing/upstream.js";

const root = process.getuid?.() === 0;

let s3: S3rverHandle;
let pki: Pki;
let pkiDir: string;
let upstream: RecordingUpstream;
let front: FrontHandle | undefined;

beforeAll(async () => {
  if (!root) return;
  pkiDir = mkdtempSync(join(tmpdir(), "front-pki-"));
  pki = makePki(pkiDir);
  s3 = await startS3rver();
  upstream = await startRecordingUpstream();
});

afterAll(async () => {
  await front?.stop();
  await upstream?.stop();
  await s3?.stop();
  if (pkiDir) rmSync(pkiDir, { recursive: true, force: true });
});

/**
 * OUT_DIR becomes a small tmpfs owned by nobody, / is remounted read-only (in this namespace
 * only), the check that / really refuses writes runs, then the entrypoint runs as nobody.
 */
const READ_ONLY_ROOT: Launcher = {
  command: "unshare",
  args: [
    "--mount",
    "--propagation",
    "private",
    "--",
    "sh",
    "-c",
    [
      'mkdir -p "$OUT_DIR"',
      'mount -t tmpfs -o size=16m,mode=0700,uid=65534,gid=65534 front-out "$OUT_DIR"',
      "mount -o remount,bind,ro /",
      'if setpriv --reuid=65534 --regid=65534 --clear-groups touch "$OUT_DIR/../root-is-writable" 2>/dev/null; then echo "/ is writable" >&2; exit 97; fi',
      'exec setpriv --reuid=65534 --regid=65534 --clear-groups -- "$0"',
    ].join(" && "),
    ENTRYPOINT,
  ],
};

describe.skipIf(!root)("read-only root file system", () => {
  it("renders and serves mutual TLS with a CRL, writing only into OUT_DIR", async () => {
    const certs = await certBucket(s3, "read-only-certs", { ...frontFiles(pki), "crl.pem": pki.crl.current });
    front = await startFront({
      // The tests' access-log file is outside OUT_DIR, and the image's /dev/stdout cannot be
      // opened here (Node's child pipes are sockets); what nginx writes besides is what counts.
      env: { AUTH_MODE: "clientauth", ...certs, CRL_REQUIRED: "true", ACCESS_LOG: "off", UPSTREAM: `127.0.0.1:${upstream.port}` },
      launcher: READ_ONLY_ROOT,
    });
    expect(front.output()).not.toMatch(/Read-only file system|EROFS|\[emerg\]|\[crit\]/);

    const client = { ca: pki.ca.certPem, cert: pki.secondClient.certPem, key: pki.secondClient.keyPem };
    const reply = await send(`${front.url}/studies/read-only`, { method: "POST", body: Buffer.alloc(3 << 20, 1), tls: client });
    expect(reply.status, reply.body).toBe(200);
    expect(upstream.requests.find((r) => r.url === "/studies/read-only")).toMatchObject({ bytes: 3 << 20 });
    const revoked = { ca: pki.ca.certPem, cert: pki.revokedClient.certPem, key: pki.revokedClient.keyPem };
    expect((await send(`${front.url}/studies/revoked`, { tls: revoked })).status).toBe(400);
    expect(await probeTls(front.port, "TLSv1.3", { cert: client.cert, key: client.key })).toEqual({ accepted: true, protocol: "TLSv1.3" });
    expect((await send(`${front.healthUrl}/health`)).status).toBe(200);

    // What was written lives in the front's own tmpfs, seen through its mount namespace only.
    const inside = (path: string) => readFileSync(`/proc/${front!.pid}/root${front!.outDir}/${path}`, "utf8");
    expect(inside("tls/crl.pem")).toBe(pki.crl.current);
    const master = inside("nginx.pid").trim();
    expect(readFileSync(`/proc/${master}/cmdline`, "utf8")).toMatch(/^nginx: master process/);
    expect(readFileSync(`/proc/${master}/status`, "utf8")).toMatch(/^PPid:\s+(\d+)$/m);
    expect(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${master}/status`, "utf8"))![1]).toBe(String(front.pid));
  });
});
