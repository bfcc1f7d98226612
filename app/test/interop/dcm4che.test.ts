// dcm4che's `stowrs` tool cannot run here (Java, in neither Debian nor npm), so
// dcm4che-stowrs.ts rebuilds its requests from its source; a recording proxy
// checks they leave node:http exactly so, and the service must store the files.
import { execFileSync } from "node:child_process";
import { Agent } from "node:http";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildInstance, newUid } from "../support/dicom.js";
import { startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { startServiceProcess, type ServiceHandle } from "../support/service.js";
import { checkStoredObjects, checkStowReply, type SentPart } from "../support/stow-check.js";
import type { StowReply } from "../support/stow-client.js";
import {
  CURRENT_BOUNDARY,
  CURRENT_CHUNK_DATA_SIZE,
  currentStowRsRequest,
  javaChunkDataSize,
  LEGACY_BOUNDARY,
  legacyStowRsRequest,
  sendStowRs,
} from "./dcm4che-stowrs.js";
import { loadSamples } from "../support/samples.js";
import { header, readRequests, startWireRecorder, type WireRecorder, type WireRequest } from "./dcm4che-wire.js";

const xmlReader = fileURLToPath(new URL("./dcm4che-native-xml.py", import.meta.url));

/** stowrs asks for application/dicom+xml; read it with a real XML parser, then apply the shared checks. */
function checkXmlReply(reply: StowReply, parts: SentPart[], context: string) {
  expect(reply.contentType, `${context}: ${reply.status} ${reply.text.slice(0, 500)}`).toMatch(/^application\/dicom\+xml\b/);
  const json = execFileSync("/usr/bin/python3", [xmlReader], { input: reply.text, encoding: "utf8" });
  checkStowReply({ status: reply.status, contentType: "application/dicom+json", text: json }, parts, `${context} (XML read as DICOM JSON)`);
}

const latin1 = (s: string) => Buffer.from(s, "latin1");

function harness() {
  const h = {} as { s3: S3rverHandle; service: ServiceHandle; wire: WireRecorder; agent: Agent };
  beforeAll(async () => {
    h.s3 = await startS3rver();
    h.service = await startServiceProcess(h.s3.env);
    h.wire = await startWireRecorder(h.service.url);
  });
  // HttpURLConnection keeps connections alive; so does this agent, one per test.
  afterEach(() => h.agent?.destroy());
  afterAll(async () => {
    await h.wire?.close();
    await h.service?.stop();
    await h.s3?.stop();
  });
  const agent = () => (h.agent = new Agent({ keepAlive: true }));
  const sent = (): WireRequest[] => h.wire.take().flatMap(readRequests);
  return { h, agent, sent };
}

describe("dcm4che stowrs 5.x framing: one chunked request for all files", () => {
  const { h, agent, sent } = harness();
  let samples: SentPart[];
  beforeAll(() => {
    samples = loadSamples();
  });

  it("chunk data size is what the JDK uses for setChunkedStreamingMode(1 MiB)", () => {
    // 0x100000 needs a 6-digit size line; 1048576 - (6+2) - 2 = 0xffff6 fits in 5 digits, so one byte more.
    expect(CURRENT_CHUNK_DATA_SIZE).toBe(1048567);
    expect(javaChunkDataSize(4096)).toBe(4096 - 5 - 2);
  });

  it("stores the three samples: 200, an XML reply naming them, the files byte-exact in S3", async () => {
    const reply = await sendStowRs(`${h.wire.url}/studies`, currentStowRsRequest(samples.map((s) => s.body)), agent());
    checkXmlReply(reply, samples, "stowrs 5.x");
    await checkStoredObjects(h.s3.client, h.s3.bucket, samples);

    const requests = sent();
    expect(requests).toHaveLength(1);
    const [req] = requests;
    expect(req.requestLine).toBe("POST /studies HTTP/1.1");
    expect(header(req, "Content-Type")).toBe('multipart/related; type="application/dicom"; boundary=myboundary');
    expect(header(req, "Accept")).toBe("application/dicom+xml");
    expect(header(req, "Transfer-Encoding")).toBe("chunked");
    expect(header(req, "Content-Length")).toBeUndefined();
    // ~100 KB: a single data chunk, as the JDK flushes it before closing.
    expect(req.chunkSizes).toEqual([req.body.length]);
    const expected = Buffer.concat([
      ...samples.flatMap((s) => [latin1(`\r\n--${CURRENT_BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`), s.body]),
      latin1(`\r\n--${CURRENT_BOUNDARY}--\r\n`),
    ]);
    expect(req.body.equals(expected), "body on the wire: CRLF, then each part, close delimiter and CRLF").toBe(true);
  });

  it("a study larger than one JDK chunk arrives in 1048567-byte chunks and is stored", async () => {
    const study = newUid();
    const series = newUid();
    const big = Array.from({ length: 2 }, () => {
      const sopInstance = newUid();
      const body = buildInstance({ studyUid: study, seriesUid: series, sopInstanceUid: sopInstance, pixels: 1_200_000 });
      return { label: `synthetic ${sopInstance}`, body, expect: { kind: "stored" as const, sopClassUid: "1.2.840.10008.5.1.4.1.1.2", sopInstanceUid: sopInstance, studyUid: study, seriesUid: series } };
    });
    const reply = await sendStowRs(`${h.wire.url}/studies/${study}`, currentStowRsRequest(big.map((p) => p.body)), agent());
    checkXmlReply(reply, big, "stowrs 5.x, 2.4 MB");
    await checkStoredObjects(h.s3.client, h.s3.bucket, big);

    const [req] = sent();
    const sizes = req.chunkSizes!;
    expect(sizes.length).toBe(3);
    expect(sizes.slice(0, -1)).toEqual([CURRENT_CHUNK_DATA_SIZE, CURRENT_CHUNK_DATA_SIZE]);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(req.body.length);
    expect(req.requestLine).toBe(`POST /studies/${study} HTTP/1.1`);
  });
});

describe("dcm4che stowrs 3.3.x framing: one Content-Length request per file", () => {
  const { h, agent, sent } = harness();
  let samples: SentPart[];
  beforeAll(() => {
    samples = loadSamples();
  });

  it("stores each sample from its own request; each 200 XML reply names that file's instance", async () => {
    const a = agent();
    for (const sample of samples) {
      const reply = await sendStowRs(`${h.wire.url}/studies`, legacyStowRsRequest(sample.label, sample.body), a);
      checkXmlReply(reply, [sample], `stowrs 3.3.x, ${sample.label}`);
    }
    await checkStoredObjects(h.s3.client, h.s3.bucket, samples);

    const requests = sent();
    expect(requests).toHaveLength(samples.length);
    requests.forEach((req, i) => {
      expect(req.requestLine).toBe("POST /studies HTTP/1.1");
      expect(header(req, "Content-Type")).toBe(`multipart/related; type="application/dicom"; boundary=${LEGACY_BOUNDARY}`);
      expect(header(req, "Accept")).toBe("application/dicom+xml");
      expect(header(req, "charset")).toBe("utf-8");
      expect(req.chunkSizes).toBeNull();
      expect(header(req, "Content-Length")).toBe(String(req.body.length));
      const head =
        `\r\n--${LEGACY_BOUNDARY}\r\nContent-Disposition: inline; name="file[]"; filename="${basename(samples[i].label)}"\r\n` +
        "Content-Type: application/dicom\r\n\r\n";
      const expected = Buffer.concat([latin1(head), samples[i].body, latin1(`\r\n--${LEGACY_BOUNDARY}--\r\n`)]);
      expect(req.body.equals(expected), `${samples[i].label}: body on the wire`).toBe(true);
    });
  });
});
