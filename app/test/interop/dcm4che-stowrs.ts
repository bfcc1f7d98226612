// The requests dcm4che's `stowrs` tool sends for DICOM files, rebuilt from
// reading its source (Java; not packaged for Debian or npm, so it cannot run
// here). Facts taken, code written anew:
//
// Current tool (dcm4che 5.x, StowRS.java rewritten "@since Apr 2017"), read in
// innovisionimaging/dcm4che @7cda093 (a dcm4che/dcm4che fork),
// dcm4che-tool/dcm4che-tool-stowrs/src/main/java/org/dcm4che3/tool/stowrs/StowRS.java;
// dcm4che/dcm4che's own README.md for the tool (@04d62c4) documents the same CLI
// (`stowrs --url .../studies object1.dcm object2.dcm`, one request for all files):
//   - one POST for all files through HttpURLConnection with
//     setChunkedStreamingMode(1024*1024): Transfer-Encoding chunked, no Content-Length;
//   - Content-Type: multipart/related; type="application/dicom"; boundary=myboundary
//     (type quoted and first, "; " between parameters, boundary a fixed unquoted token);
//   - Accept: application/dicom+xml (always, for DICOM files);
//   - per file: CRLF "--myboundary" CRLF "Content-Type: application/dicom" CRLF CRLF,
//     then the file copied verbatim (Files.copy); after the last file
//     CRLF "--myboundary--" CRLF. So the body opens with CRLF and ends with one.
//   - the reply is only logged, not parsed.
// Legacy tool (dcm4che 3.3.x), read in dcm4che/dcm4che @e9f0ee0, same path, sendDicomFile():
//   - one POST per file, no streaming mode set, so HttpURLConnection buffers the
//     body and sends Content-Length;
//   - Content-Type: multipart/related; type="application/dicom"; boundary=-------gc0p4Jq0M2Yt08jU534c0p
//   - Accept: application/dicom+xml, and a (non-standard) request header "charset: utf-8";
//   - body: CRLF "--" boundary CRLF,
//     `Content-Disposition: inline; name="file[]"; filename="<file name>"` CRLF,
//     "Content-Type: application/dicom" CRLF CRLF, the file, CRLF "--" boundary "--" CRLF.
//
// Chunk sizes follow the JDK's sun.net.www.http.ChunkedOutputStream (read in a
// decompiled rt.jar, daiqingliang/rt-source): for a chunk length n it sends data
// chunks of n minus the hex size line and both CRLFs (1048567 bytes for 1 MiB),
// then the remainder, then the last-chunk. Not reproduced: the headers the JDK adds
// itself (User-Agent: Java/<version>, its Host/Connection), whose exact values
// depend on the JVM; node:http sends its own Host and Connection: keep-alive.
import { Agent, request } from "node:http";
import { stowReply, type StowReply } from "../support/stow-client.js";

export const CURRENT_BOUNDARY = "myboundary";
export const LEGACY_BOUNDARY = "-------gc0p4Jq0M2Yt08jU534c0p";
const CHUNKED_STREAMING_MODE = 1024 * 1024;

/** Data bytes per full chunk HttpURLConnection sends after setChunkedStreamingMode(chunkLength). */
export function javaChunkDataSize(chunkLength: number): number {
  const sizeLine = (n: number) => n.toString(16).length + 2;
  let size = chunkLength - sizeLine(chunkLength) - 2;
  if (sizeLine(size + 1) < sizeLine(chunkLength)) size++;
  return size;
}

export const CURRENT_CHUNK_DATA_SIZE = javaChunkDataSize(CHUNKED_STREAMING_MODE);

const ascii = (s: string) => Buffer.from(s, "latin1");

export interface StowRsRequest {
  headers: Array<[string, string]>;
  body: Buffer;
  /** Data bytes per chunk, or undefined for a Content-Length body. */
  chunkDataSize?: number;
}

/** `stowrs --url <url> a.dcm b.dcm ...` of dcm4che 5.x. */
export function currentStowRsRequest(files: Buffer[]): StowRsRequest {
  const parts = files.flatMap((file) => [ascii(`\r\n--${CURRENT_BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`), file]);
  return {
    headers: [
      ["Content-Type", `multipart/related; type="application/dicom"; boundary=${CURRENT_BOUNDARY}`],
      ["Accept", "application/dicom+xml"],
    ],
    body: Buffer.concat([...parts, ascii(`\r\n--${CURRENT_BOUNDARY}--\r\n`)]),
    chunkDataSize: CURRENT_CHUNK_DATA_SIZE,
  };
}

/** One of the per-file requests of dcm4che 3.3.x's `stowrs -u <url> file`. */
export function legacyStowRsRequest(fileName: string, file: Buffer): StowRsRequest {
  const head =
    `\r\n--${LEGACY_BOUNDARY}\r\n` +
    `Content-Disposition: inline; name="file[]"; filename="${fileName}"\r\n` +
    "Content-Type: application/dicom\r\n\r\n";
  return {
    headers: [
      ["Content-Type", `multipart/related; type="application/dicom"; boundary=${LEGACY_BOUNDARY}`],
      ["Accept", "application/dicom+xml"],
      ["charset", "utf-8"],
    ],
    body: Buffer.concat([ascii(head), file, ascii(`\r\n--${LEGACY_BOUNDARY}--\r\n`)]),
  };
}

/** Sends one request with node:http, framed as HttpURLConnection would frame it. */
export function sendStowRs(url: string, req: StowRsRequest, agent: Agent): Promise<StowReply> {
  const framing: Array<[string, string]> =
    req.chunkDataSize === undefined ? [["Content-Length", String(req.body.length)]] : [["Transfer-Encoding", "chunked"]];
  const headers = Object.fromEntries([...req.headers, ...framing]);
  const startedAt = performance.now();
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { method: "POST", headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => resolve(stowReply(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString("utf8"), startedAt)));
      res.on("error", reject);
    });
    outgoing.on("error", reject);
    if (req.chunkDataSize === undefined) {
      outgoing.end(req.body);
      return;
    }
    // node:http turns each write of a chunked request into exactly one chunk.
    for (let at = 0; at < req.body.length; at += req.chunkDataSize) outgoing.write(req.body.subarray(at, at + req.chunkDataSize));
    outgoing.end();
  });
}
