import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { SAMPLE_FILES } from "./generate.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const repoRoot = join(here, "..");

describe("dcm-samples", () => {
  it.each(SAMPLE_FILES)("%s passes dciodvfy as a CT Image without errors", (name) => {
    const run = spawnSync("dciodvfy", [join(here, name)], { encoding: "utf8" });
    expect(run.error, "dciodvfy (Debian dicom3tools) must be installed").toBeUndefined();
    const report = `${run.stdout}${run.stderr}`;
    // dciodvfy names the IOD it checked against; without this line it did not
    // recognise the file as a CT image at all.
    expect(report.split("\n")).toContain("CTImage");
    expect(report.split("\n").filter((line) => line.startsWith("Error"))).toEqual([]);
  });

  describe("generator", () => {
    const outDir = mkdtempSync(join(tmpdir(), "dcm-samples-"));
    afterAll(() => rmSync(outDir, { recursive: true, force: true }));

    it("reproduces the committed files byte for byte", () => {
      execFileSync(process.execPath, ["--import", "tsx", join(here, "generate.ts"), outDir], {
        cwd: repoRoot,
        stdio: "pipe",
      });
      for (const name of SAMPLE_FILES) {
        const committed = readFileSync(join(here, name));
        const regenerated = readFileSync(join(outDir, name));
        expect(regenerated.equals(committed), `${name} differs from the generator's output`).toBe(true);
      }
    });
  });

  it("are three instances of one series in one study, each with its own SOP Instance UID", () => {
    const uids = SAMPLE_FILES.map((name) => {
      const dump = execFileSync(
        "dcmdump",
        ["-q", "+P", "0020,000d", "+P", "0020,000e", "+P", "0008,0018", "+P", "0002,0010", join(here, name)],
        { encoding: "utf8" },
      );
      const value = (tag: string) => new RegExp(`^\\(${tag}\\) UI \\[([^\\]]*)\\]`, "m").exec(dump)?.[1];
      return {
        study: value("0020,000d"),
        series: value("0020,000e"),
        sop: value("0008,0018"),
        transferSyntax: /^\(0002,0010\) UI =(\S+)/m.exec(dump)?.[1],
      };
    });
    expect(new Set(uids.map((u) => u.study)).size).toBe(1);
    expect(new Set(uids.map((u) => u.series)).size).toBe(1);
    expect(new Set(uids.map((u) => u.sop)).size).toBe(3);
    for (const u of uids) {
      expect(u.transferSyntax).toBe("LittleEndianExplicit");
      for (const uid of [u.study, u.series, u.sop]) expect(uid).toMatch(/^2\.25\.[1-9][0-9]*$/);
    }
  });
});
