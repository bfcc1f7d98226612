// The pieces of `npm run bench -- --peer orthanc`: the null S3 sink must behave as S3 does where
// the service depends on it (or the comparison would measure a service that skips its checks),
// the profile breakdown must put samples where they belong, and the command must run the
// comparison inside a loopback-only namespace and remove it again.
import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { loopbackOnly } from "./lib/peer.js";
import { startNullSink } from "./lib/null-sink.js";
import { stagesOf, type CpuProfile } from "./lib/profile-stages.js";

const run = promisify(execFile);
const root = new URL("../", import.meta.url).pathname;

describe("null S3 sink", () => {
  it("refuses a second conditional write, answers HEAD with what was stored, and hashes what arrived", async () => {
    const sink = await startNullSink("dicom");
    const s3 = new S3Client({
      endpoint: sink.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "a", secretAccessKey: "b" },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    try {
      await s3.send(new HeadBucketCommand({ Bucket: "dicom" }));
      const body = Buffer.from("instance bytes");
      const sha256 = createHash("sha256").update(body).digest("hex");
      await s3.send(new PutObjectCommand({ Bucket: "dicom", Key: "1.2/3.4/5.6.dcm", Body: body, IfNoneMatch: "*", Metadata: { sha256 } }));
      await expect(s3.send(new PutObjectCommand({ Bucket: "dicom", Key: "1.2/3.4/5.6.dcm", Body: body, IfNoneMatch: "*" }))).rejects.toMatchObject({
        name: "PreconditionFailed",
        $metadata: { httpStatusCode: 412 },
      });
      const head = await s3.send(new HeadObjectCommand({ Bucket: "dicom", Key: "1.2/3.4/5.6.dcm" }));
      expect(head).toMatchObject({ ContentLength: body.length, Metadata: { sha256 } });
      await expect(s3.send(new HeadObjectCommand({ Bucket: "dicom", Key: "1.2/3.4/absent.dcm" }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
      // Without the condition a write replaces the object, as on S3.
      await s3.send(new PutObjectCommand({ Bucket: "dicom", Key: "1.2/3.4/5.6.dcm", Body: Buffer.from("other"), Metadata: { sha256: "claimed" } }));

      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: "dicom", Key: "1.2/3.4/big.dcm", Metadata: { a: "b" } }));
      for (const PartNumber of [2, 1]) await s3.send(new UploadPartCommand({ Bucket: "dicom", Key: "1.2/3.4/big.dcm", UploadId, PartNumber, Body: Buffer.alloc(1000) }));
      await s3.send(
        new CompleteMultipartUploadCommand({ Bucket: "dicom", Key: "1.2/3.4/big.dcm", UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: "x" }, { PartNumber: 2, ETag: "y" }] } }),
      );
      await s3.send(new PutObjectTaggingCommand({ Bucket: "dicom", Key: "1.2/3.4/big.dcm", Tagging: { TagSet: [{ Key: "sha256", Value: "abc" }] } }));
      expect((await s3.send(new GetObjectTaggingCommand({ Bucket: "dicom", Key: "1.2/3.4/big.dcm" }))).TagSet).toEqual([{ Key: "sha256", Value: "abc" }]);
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: "dicom", Prefix: "1.2/3.4/" }));
      expect(listed.Contents?.map((c) => c.Key)).toEqual(["1.2/3.4/5.6.dcm", "1.2/3.4/big.dcm"]);

      const stats = await sink.stats();
      expect(stats.objects["1.2/3.4/5.6.dcm"]).toMatchObject({ size: 5, sha256: createHash("sha256").update("other").digest("hex"), metadata: { sha256: "claimed" } });
      expect(stats.objects["1.2/3.4/big.dcm"]).toMatchObject({ size: 2000, metadata: { a: "b" } });
      expect(stats.operations).toMatchObject({ PutObject: 3, HeadObject: 2, UploadPart: 2, CompleteMultipartUpload: 1 });
    } finally {
      s3.destroy();
      await sink.stop();
    }
  });
});

describe("CPU profile by stage", () => {
  it("puts each sample in the stage of its innermost known frame, and honours the time window", () => {
    const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({ id, callFrame: { functionName, url }, children });
    const profile: CpuProfile = {
      nodes: [
        frame(1, "(root)", "", [2, 6, 7, 8]),
        frame(2, "finish", "file:///x/app/storage/instance-upload.js", [3, 5]),
        frame(3, "update", "node:internal/crypto/hash", []),
        frame(4, "parse", "file:///x/node_modules/fast-xml-parser/src/parser.js", []),
        frame(5, "send", "file:///x/node_modules/@smithy/core/dist-cjs/index.js", [4]),
        frame(6, "(garbage collector)", ""),
        frame(7, "(idle)", ""),
        frame(8, "readDicomHeader", "file:///x/app/dicom/header.js"),
      ],
      startTime: 1000,
      endTime: 1000 + 6000,
      // One sample per ms: hash, S3 client (XML parser under the SDK), store path, GC, idle, header.
      samples: [3, 4, 2, 6, 7, 8],
      timeDeltas: [0, 1000, 1000, 1000, 1000, 1000],
    };
    const b = stagesOf(profile);
    expect(b.stages).toMatchObject({ hash: 1, "S3 client": 1, "store path": 1, GC: 1, header: 0 });
    // The last sample has no successor to measure it by; idle does not count.
    expect(b.totalMs).toBe(4);
    expect(stagesOf(profile, [2500, 4500]).stages).toMatchObject({ hash: 0, "S3 client": 0, "store path": 1, GC: 1 });
  });
});

describe("--peer orthanc", () => {
  it("starts Orthanc only where nothing but loopback is reachable", () => {
    const lo = "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n1: lo    inet6 ::1/128 scope host\n";
    expect(loopbackOnly(lo)).toBe(true);
    expect(loopbackOnly(lo + "2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\n")).toBe(false);
    expect(loopbackOnly("1: lo    inet 127.0.0.1/8 scope host lo\n")).toBe(false);
  });

  it("compares the service with Orthanc on the same requests, in a namespace it removes again", async () => {
    const running = run(
      process.execPath,
      ["--import", "tsx", "bench/ingest.ts", "--peer", "orthanc", "--skip-raw", "--skip-big", "--peer-sizes", "16,64", "--peer-mib", "1", "--peer-clients", "2", "--peer-per-request", "2"],
      { cwd: root, env: { ...process.env, BENCH_COMPILED: "0" } },
    );
    // The namespace is named after the benchmark's process (ingest.ts).
    const namespace = `stowrs-bench-${running.child.pid}`;
    const { stdout } = await running;
    const lines = stdout.trimEnd().split("\n");
    const r = JSON.parse(lines.at(-1)!);
    expect(r.problems).toEqual([]);
    expect(r.peer.orthancVersion).toMatch(/^1\./);
    expect(r.peer.sizes.map((s: { instanceKiB: number; instances: number }) => [s.instanceKiB, s.instances])).toEqual([
      [16, 64],
      [64, 16],
    ]);
    for (const s of r.peer.sizes) {
      for (const server of [s.service, s.orthanc]) {
        expect(server.cpuSeconds).toBeGreaterThan(0);
        expect(server.instancesPerSecond).toBeGreaterThan(0);
        expect(server.cpuMsPerInstance).toBeCloseTo((1000 * server.cpuSeconds) / s.instances, 1);
      }
      expect(s.ratio).toBeCloseTo(s.service.cpuMsPerInstance / s.orthanc.cpuMsPerInstance, 1);
      expect(r.targets[`peer${s.instanceKiB}KiB`].pass).toBe(s.ratio <= s.target);
    }
    // Every instance went to the sink as a conditional PutObject; nothing needed a HEAD.
    expect(r.peer.sinkOperations.PutObject).toBeGreaterThanOrEqual(80);
    expect(r.peer.sinkOperations.HeadObject ?? 0).toBe(0);
    expect(stdout).toMatch(/^16 KiB x 64: CPU ratio service\/Orthanc\s+\S+\s+<= 1\.25\s+(PASS|FAIL)$/m);
    // Its own namespace is gone; other benchmark runs on the same machine may hold theirs meanwhile.
    const namespaces = execFileSync("ip", ["netns", "list"], { encoding: "utf8" }).split("\n").map((line) => line.split(" ")[0]);
    expect(namespaces).not.toContain(namespace);
  });
});
