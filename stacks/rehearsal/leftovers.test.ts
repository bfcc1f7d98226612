import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { descendants, isRunning } from "../../app/test/support/process-tree";
import { endLeftovers, isLoaderService } from "./leftovers";

describe("endLeftovers", () => {
  it("ends every process below the rehearsal, with SIGKILL for one that ignores SIGTERM, and says which", async () => {
    // A polite child with a grandchild, and one that ignores SIGTERM (as a stuck process would).
    const polite = spawn("sh", ["-c", "sleep 60 & wait"], { stdio: "ignore" });
    const stubborn = spawn("sh", ["-c", "trap '' TERM; sleep 60 & wait; sleep 60"], { stdio: "ignore" });
    await new Promise((r) => setTimeout(r, 300));
    const before = descendants(process.pid).filter(isRunning);
    expect(before).toEqual(expect.arrayContaining([polite.pid, stubborn.pid]));

    const line = await endLeftovers(process.pid, 1000);
    expect(line).toMatch(/^ended \d+ process\(es\) still running: .*\d+ needed SIGKILL$/);
    expect(line).toContain(String(polite.pid));
    expect(descendants(process.pid).filter(isRunning)).toEqual([]);
  });

  it("says so when nothing is left", async () => {
    expect(await endLeftovers(process.pid, 100)).toBe("every process the rehearsal started has ended");
  });

  it("leaves alone the esbuild service of the TypeScript loader that runs the rehearsal", () => {
    expect(isLoaderService("/repo/node_modules/@esbuild/linux-x64/bin/esbuild --service=0.28.2 --ping")).toBe(true);
    expect(isLoaderService("/usr/bin/node --expose-gc app/dist/main.js")).toBe(false);
    expect(isLoaderService("nginx: master process /usr/sbin/nginx -c /tmp/x/nginx.conf")).toBe(false);
  });
});
