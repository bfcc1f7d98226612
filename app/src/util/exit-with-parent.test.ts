import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const helper = fileURLToPath(new URL("./exit-with-parent.ts", import.meta.url));
// A child that closes "its server" (prints closed) when told to stop; it would otherwise run forever.
const child = `
  import { exitWithParent } from ${JSON.stringify(helper)};
  setInterval(() => undefined, 1000);
  exitWithParent((done) => { process.stdout.write("closed\\n"); done(); });
  process.stdout.write("ready\\n");
`;

async function startChild() {
  const proc = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", child], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
  while (!out.includes("ready")) await once(proc.stdout, "data");
  return { proc, out: () => out };
}

describe("exitWithParent", () => {
  it("closes and exits 0 when the parent's end of stdin closes (as when the parent dies)", async () => {
    const { proc, out } = await startChild();
    const exited = once(proc, "exit");
    proc.stdin.end();
    const [code] = await exited;
    expect(code).toBe(0);
    expect(out()).toContain("closed");
  });

  it("closes and exits 0 on SIGTERM", async () => {
    const { proc, out } = await startChild();
    const exited = once(proc, "exit");
    proc.kill("SIGTERM");
    const [code] = await exited;
    expect(code).toBe(0);
    expect(out()).toContain("closed");
  });
});
