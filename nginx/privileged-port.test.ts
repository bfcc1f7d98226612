// The image runs nginx as a non-root user and lets it bind 443 through a file
// capability (see Dockerfile). This checks that approach with this machine's
// nginx on a free port below 1024, against the same nginx without it.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFront } from "./testing/front.js";
import { probeTls } from "./testing/tls-probe.js";

const canTry = process.getuid?.() === 0 && (() => {
  try {
    execFileSync("setcap", ["-v", "cap_net_bind_service=+ep", "/bin/true"], { stdio: "ignore" });
  } catch (error) {
    return (error as { status?: number }).status === 1; // present, just not set on /bin/true
  }
  return true;
})();

async function freePrivilegedPort(): Promise<number> {
  for (let port = 1023; port > 600; port -= 1) {
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no free port below 1024");
}

describe.skipIf(!canTry)("non-root nginx on a privileged port", () => {
  let dir: string;
  let nginxWithCapability: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "front-cap-"));
    chmodSync(dir, 0o755);
    nginxWithCapability = join(dir, "nginx");
    copyFileSync("/usr/sbin/nginx", nginxWithCapability);
    execFileSync("setcap", ["cap_net_bind_service=+ep", nginxWithCapability]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("fails to bind without the capability", async () => {
    const port = await freePrivilegedPort();
    const error = await startFront({
      env: { AUTH_MODE: "anonymous", CERT_MODE: "ACM", UPSTREAM: "127.0.0.1:9", LISTEN: `127.0.0.1:${port}` },
    }).then(
      async (front) => {
        await front.stop();
        return new Error("started");
      },
      (e: Error) => e,
    );
    expect(error.message).toContain(`bind() to 127.0.0.1:${port} failed (13: Permission denied)`);
  });

  it("serves TLS there with cap_net_bind_service on the nginx binary", async () => {
    const port = await freePrivilegedPort();
    const front = await startFront({
      env: {
        AUTH_MODE: "anonymous",
        CERT_MODE: "ACM",
        UPSTREAM: "127.0.0.1:9",
        LISTEN: `127.0.0.1:${port}`,
        NGINX_BIN: nginxWithCapability,
      },
    });
    try {
      expect(await probeTls(port, "TLSv1.3")).toEqual({ accepted: true, protocol: "TLSv1.3" });
    } finally {
      await front.stop();
    }
  });
});
