// Test harness: Debian's Orthanc with its DICOMweb plugin, as a child process with its own
// configuration and storage in a scratch directory. Orthanc binds every interface, so callers
// run inside a loopback-only network namespace (see netns.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { freePort } from "./free-port.js";

export const ORTHANC_BINARY = "/usr/sbin/Orthanc";
export const DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface OrthancReply {
  status: number;
  bytes: Buffer;
  text: string;
  /** The body parsed as JSON, or null when it is not JSON (a file). */
  json: unknown;
}

export class OrthancProcess {
  readonly url: string;
  /** Orthanc's stdout and stderr, line by line. */
  readonly log: string[] = [];
  private readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    port: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream }).on("line", (l) => this.log.push(l));
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  /** Starts Orthanc with the DICOMweb plugin, free HTTP and DICOM ports, and `config` on top. */
  static async start(dir: string, name: string, config: Record<string, unknown>): Promise<OrthancProcess> {
    const port = await freePort();
    const path = join(dir, "orthanc.json");
    writeFileSync(
      path,
      JSON.stringify({
        Name: name,
        StorageDirectory: join(dir, "db"),
        IndexDirectory: join(dir, "db"),
        HttpPort: port,
        DicomPort: await freePort(),
        RemoteAccessAllowed: false,
        AuthenticationEnabled: false,
        Plugins: [DICOMWEB_PLUGIN],
        ...config,
      }),
    );
    const orthanc = new OrthancProcess(spawn(ORTHANC_BINARY, [path], { stdio: ["ignore", "pipe", "pipe"] }), port);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (orthanc.child.exitCode !== null) throw new Error(`Orthanc exited with ${orthanc.child.exitCode}: ${orthanc.logTail(10).join("\n")}`);
      if (await fetch(`${orthanc.url}/system`).then((r) => r.ok, () => false)) return orthanc;
      await sleep(100);
    }
    throw new Error("Orthanc did not answer /system within 20 s");
  }

  async request(method: string, path: string, body?: Buffer | string): Promise<OrthancReply> {
    // fetch's types take a Uint8Array over a plain ArrayBuffer, not a Buffer.
    const res = await fetch(`${this.url}${path}`, { method, body: typeof body === "string" ? body : body && new Uint8Array(body) });
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = bytes.toString("utf8");
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* a file, not JSON */
    }
    return { status: res.status, bytes, text, json };
  }

  /**
   * Uploads instances that form one study (POST /instances) and gives Orthanc's id of each (by
   * label) and of the study; throws when Orthanc refuses one or they form more than one study.
   */
  async storeStudy(instances: Array<{ label: string; body: Buffer }>): Promise<{ ids: Map<string, string>; studyId: string }> {
    const ids = new Map<string, string>();
    const studies = new Set<string>();
    for (const instance of instances) {
      const reply = await this.request("POST", "/instances", instance.body);
      const answer = reply.json as { ID?: string; ParentStudy?: string } | null;
      if (reply.status !== 200 || !answer?.ID || !answer.ParentStudy) throw new Error(`Orthanc refused ${instance.label}: ${reply.status} ${reply.text}`);
      ids.set(instance.label, answer.ID);
      studies.add(answer.ParentStudy);
    }
    if (studies.size !== 1) throw new Error(`the instances should form one study in Orthanc, got ${studies.size}`);
    return { ids, studyId: [...studies][0]! };
  }

  async waitForJob(id: string): Promise<{ state: string; error: string | null }> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const job = (await this.request("GET", `/jobs/${id}`)).json as { State?: string; Content?: Record<string, unknown>; ErrorDescription?: string };
      if (job.State === "Success" || job.State === "Failure") {
        const details = job.State === "Failure" ? `${job.ErrorDescription ?? ""} ${JSON.stringify(job.Content ?? {})}` : null;
        return { state: job.State, error: details };
      }
      await sleep(100);
    }
    return { state: "Timeout", error: "job did not finish within 30 s" };
  }

  /** The newest DICOMweb STOW client job; the synchronous call runs one too. */
  async lastStowJob(): Promise<{ ID: string; State: string; ErrorDescription?: string; Content?: unknown } | undefined> {
    const jobs = (await this.request("GET", "/jobs?expand")).json as { ID: string; Type: string; State: string; CreationTime: string }[];
    return jobs
      .filter((j) => j.Type === "DicomWebStowClient")
      .sort((a, b) => a.CreationTime.localeCompare(b.CreationTime))
      .at(-1);
  }

  logTail(lines = 30): string[] {
    return this.log.slice(-lines);
  }

  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    const killer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(killer);
  }
}
