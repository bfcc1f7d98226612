// Orthanc (Debian) pushing a study to the service with its DICOMweb plugin's
// STOW-RS client. Orthanc binds every interface and has no option to bind
// loopback only, so this script is meant to run inside a network namespace
// that has nothing but `lo`:
//
//   ip netns exec <ns> node --import tsx app/src/clients/orthanc-scenario.ts
//
// It starts s3rver, the service and Orthanc on 127.0.0.1, uploads the
// dcm-samples to Orthanc, has Orthanc push the study (once synchronously, once
// as a job), compares what landed in S3 with Orthanc's own copy of each
// instance, stops everything and prints one JSON line (the result).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { objectKey, getObject, type StoredExpectation } from "../corpus/stow-check.js";
import { startS3rver, type S3rverHandle } from "../testing/s3rver.js";
import { startServiceProcess, type ServiceHandle } from "../testing/service.js";
import { loadSamples } from "./samples.js";

export const ORTHANC_BINARY = "/usr/sbin/Orthanc";
export const DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";
export const RESULT_MARKER = "orthanc-scenario-result";

export interface PushOutcome {
  httpStatus: number;
  body: unknown;
  jobId: string | null;
  jobState: string | null;
  jobError: string | null;
}

export interface ObjectCheck {
  file: string;
  key: string;
  found: boolean;
  contentType: string | null;
  equalsOrthancCopy: boolean;
  equalsSample: boolean;
}

export interface ScenarioResult {
  marker: typeof RESULT_MARKER;
  ok: boolean;
  orthancVersion: string | null;
  uploaded: number;
  synchronous: PushOutcome | null;
  asynchronous: PushOutcome | null;
  objects: ObjectCheck[];
  error: string | null;
  orthancLogTail: string[];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Orthanc {
  readonly url: string;
  private readonly log: string[] = [];
  private readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    port: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream }).on("line", (line) => this.log.push(line));
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  static async start(dir: string, serviceUrl: string): Promise<Orthanc> {
    const httpPort = await freePort();
    const config = {
      Name: "stowrs-to-s3-test",
      StorageDirectory: join(dir, "db"),
      IndexDirectory: join(dir, "db"),
      HttpPort: httpPort,
      DicomPort: await freePort(),
      RemoteAccessAllowed: false,
      AuthenticationEnabled: false,
      Plugins: [DICOMWEB_PLUGIN],
      DicomWeb: { Enable: true, Servers: { stow: [`${serviceUrl}/`] } },
    };
    const configPath = join(dir, "orthanc.json");
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    const orthanc = new Orthanc(spawn(ORTHANC_BINARY, [configPath], { stdio: ["ignore", "pipe", "pipe"] }), httpPort);
    await orthanc.waitReady();
    return orthanc;
  }

  private async waitReady() {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`Orthanc exited with ${this.child.exitCode}`);
      try {
        if ((await fetch(`${this.url}/system`)).ok) return;
      } catch {
        /* not listening yet */
      }
      await sleep(100);
    }
    throw new Error("Orthanc did not answer /system within 20 s");
  }

  async request(method: string, path: string, body?: Buffer | string): Promise<{ status: number; json: unknown; bytes: Buffer }> {
    // fetch's types take a Uint8Array over a plain ArrayBuffer, not a Buffer.
    const res = await fetch(`${this.url}${path}`, { method, body: typeof body === "string" ? body : body && new Uint8Array(body) });
    const bytes = Buffer.from(await res.arrayBuffer());
    let json: unknown = null;
    try {
      json = JSON.parse(bytes.toString("utf8"));
    } catch {
      /* a file, not JSON */
    }
    return { status: res.status, json, bytes };
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

async function push(orthanc: Orthanc, studyId: string, synchronous: boolean): Promise<PushOutcome> {
  const body = JSON.stringify({ Resources: [studyId], Synchronous: synchronous });
  const reply = await orthanc.request("POST", "/dicom-web/servers/stow/stow", body);
  if (synchronous) {
    const job = await orthanc.lastStowJob();
    const jobError = job && job.State !== "Success" ? `${job.ErrorDescription ?? ""} ${JSON.stringify(job.Content ?? {})}` : null;
    return { httpStatus: reply.status, body: reply.json, jobId: job?.ID ?? null, jobState: job?.State ?? null, jobError };
  }
  const jobId = (reply.json as { ID?: string } | null)?.ID ?? null;
  const job = jobId ? await orthanc.waitForJob(jobId) : { state: null, error: "no job ID in the answer" };
  return { httpStatus: reply.status, body: reply.json, jobId, jobState: job.state, jobError: job.error };
}

export async function runScenario(): Promise<ScenarioResult> {
  const result: ScenarioResult = {
    marker: RESULT_MARKER,
    ok: false,
    orthancVersion: null,
    uploaded: 0,
    synchronous: null,
    asynchronous: null,
    objects: [],
    error: null,
    orthancLogTail: [],
  };
  const dir = mkdtempSync(join(tmpdir(), "orthanc-scenario-"));
  let s3: S3rverHandle | undefined;
  let service: ServiceHandle | undefined;
  let orthanc: Orthanc | undefined;
  try {
    const samples = loadSamples();
    s3 = await startS3rver();
    service = await startServiceProcess({ ...s3.env, LOGLEVEL: "INFO" });
    orthanc = await Orthanc.start(dir, service.url);
    result.orthancVersion = ((await orthanc.request("GET", "/system")).json as { Version?: string }).Version ?? null;

    const orthancIds = new Map<string, string>();
    const studyIds = new Set<string>();
    for (const sample of samples) {
      const reply = await orthanc.request("POST", "/instances", sample.body);
      const answer = reply.json as { ID?: string; ParentStudy?: string; Status?: string };
      if (reply.status !== 200 || !answer.ID || !answer.ParentStudy) {
        throw new Error(`Orthanc refused ${sample.label}: ${reply.status} ${reply.bytes.toString("utf8")}`);
      }
      orthancIds.set(sample.label, answer.ID);
      studyIds.add(answer.ParentStudy);
      result.uploaded++;
    }
    if (studyIds.size !== 1) throw new Error(`the samples should form one study in Orthanc, got ${studyIds.size}`);
    const [studyId] = studyIds;

    result.synchronous = await push(orthanc, studyId, true);
    result.asynchronous = await push(orthanc, studyId, false);

    for (const sample of samples) {
      const key = objectKey(sample.expect as StoredExpectation);
      const orthancCopy = (await orthanc.request("GET", `/instances/${orthancIds.get(sample.label)}/file`)).bytes;
      const check: ObjectCheck = { file: sample.label, key, found: false, contentType: null, equalsOrthancCopy: false, equalsSample: false };
      try {
        const object = await getObject(s3.client, s3.bucket, key);
        check.found = true;
        check.contentType = object.contentType ?? null;
        check.equalsOrthancCopy = object.bytes.equals(orthancCopy);
        check.equalsSample = object.bytes.equals(sample.body);
      } catch {
        /* not stored: found stays false */
      }
      result.objects.push(check);
    }
    result.ok =
      result.synchronous.httpStatus === 200 &&
      result.synchronous.jobState === "Success" &&
      result.asynchronous.httpStatus === 200 &&
      result.asynchronous.jobState === "Success" &&
      result.objects.length === samples.length &&
      result.objects.every((o) => o.found && o.equalsOrthancCopy && o.contentType === "application/dicom");
  } catch (e) {
    result.error = e instanceof Error ? e.message : String(e);
  } finally {
    result.orthancLogTail = orthanc?.logTail() ?? [];
    await orthanc?.stop().catch(() => undefined);
    await service?.stop().catch(() => undefined);
    await s3?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runScenario();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exitCode = result.ok ? 0 : 1;
}
