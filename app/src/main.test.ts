// The entry point as users run it: a child process, its exit codes and its start-up output.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildInstance } from "../test/support/dicom.js";
import { multipartBody } from "../test/support/multipart.js";
import { spawnService, startServiceProcess } from "../test/support/service.js";
import { postStow } from "../test/support/stow-client.js";

const dirs: string[] = [];

/** The local addresses of the sockets listening on `port`, from the kernel's own table (/proc/net/tcp and tcp6). */
function listeningSockets(port: number): string[] {
  const found: string[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local || state !== "0A") continue; // 0A: LISTEN
      const [hex, portHex] = local.split(":");
      if (parseInt(portHex!, 16) !== port) continue;
      // IPv4 as four little-endian bytes; anything else shown as it is.
      found.push(hex!.length === 8 ? [3, 2, 1, 0].map((i) => parseInt(hex!.slice(i * 2, i * 2 + 2), 16)).join(".") : hex!);
    }
  }
  return found;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function runToExit(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawnService(env);
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  child.stdout!.resume();
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stderr })));
}

describe("main", () => {
  it("stops start-up with a message naming each invalid variable and a non-zero exit", async () => {
    const { code, stderr } = await runToExit({ UPLOAD_PART_SIZE_MIB: "2", DUPLICATE_POLICY: "sometimes" });
    expect(code).toBe(2);
    expect(stderr).toMatch(/UPLOAD_PART_SIZE_MIB: must be between 5/);
    expect(stderr).toMatch(/DUPLICATE_POLICY: expected overwrite or reject/);
  });

  it("stops start-up on invalid bearer-token settings the same way, naming each variable", async () => {
    const { code, stderr } = await runToExit({ OIDC_ISSUER: "http://idp.hospital.test", OIDC_ALGORITHMS: "RS256,HS256" });
    expect(code).toBe(2);
    expect(stderr).toMatch(/OIDC_ISSUER: .*must be an https:\/\/ URL/);
    expect(stderr).toMatch(/OIDC_AUDIENCE: required with OIDC_ISSUER/);
    expect(stderr).toMatch(/OIDC_ALGORITHMS: HS256 is refused/);
  });

  it("without S3_BUCKET runs the embedded store, stores under DATA_DIR, and exits 0 on SIGTERM", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "stowrs-main-"));
    dirs.push(dataDir);
    // HOST unset, as `npm start` runs it: loopback only, and it says so.
    const svc = await startServiceProcess({ DATA_DIR: dataDir, LOGLEVEL: "DEBUG", HOST: "" });
    try {
      expect(svc.logRecords("listening")[0]).toMatchObject({ address: `127.0.0.1:${svc.port}`, url: `http://127.0.0.1:${svc.port}` });
      expect(listeningSockets(svc.port)).toEqual(["127.0.0.1"]);
      await expect.poll(() => svc.stderr()).toContain(`${svc.url}/studies (listening on 127.0.0.1:${svc.port}, this machine only`);
      const boundary = "main-test";
      const res = await postStow(svc.url, multipartBody([buildInstance({ studyUid: "1.2.3.4", seriesUid: "1.2.3.4.5", sopInstanceUid: "1.2.3.4.5.6" })], boundary), boundary, {
        headers: {},
      });
      expect(res.status).toBe(200);
      const studyDir = join(dataDir, "s3", "dicom", "1.2.3.4", "1.2.3.4.5");
      expect(existsSync(studyDir)).toBe(true);
      expect(readdirSync(studyDir).some((f) => f.startsWith("1.2.3.4.5.6.dcm"))).toBe(true);
      // Logs carry UIDs and keys, never the patient's name or ID.
      // (The log lines reach this process through a pipe, possibly after the response.)
      await expect.poll(() => svc.logs().join("\n")).toContain("1.2.3.4/1.2.3.4.5/1.2.3.4.5.6.dcm");
      await expect.poll(() => svc.logs().join("\n")).toContain('"msg":"store request"');
      expect(svc.logs().join("\n")).not.toContain("PHANTOM");
    } finally {
      const code = await svc.stop("SIGTERM");
      expect(code).toBe(0);
    }
  });
});
