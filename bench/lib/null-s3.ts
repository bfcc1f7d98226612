// An S3 endpoint that counts bytes and throws them away, so that a benchmark measures the service's
// own CPU and not a store's. It answers just enough of the S3 REST API (path style) for the
// service to run every one of its paths: PutObject with If-None-Match (it remembers keys, and
// refuses a second write with 412 as Amazon S3 does), HeadObject (404, or the size and metadata
// stored), multipart uploads, tagging, ListObjectsV2, DeleteObject and HeadBucket. Signatures are
// not checked. GetObject has no bytes to give and answers 501.
//
// The sink hashes what it receives: GET /__null-s3/objects lists every key with the size and
// SHA-256 of the bytes that arrived, so a benchmark can check them against what it sent.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

export interface SinkObject {
  size: number;
  /** SHA-256 of the bytes received; undefined for a multipart object (its parts arrive in any order). */
  sha256?: string;
  /** x-amz-meta-* headers as sent, without the prefix. */
  metadata: Record<string, string>;
  tags: Record<string, string>;
}

export interface SinkStats {
  objects: Record<string, SinkObject>;
  /** Requests by operation. */
  operations: Record<string, number>;
  bytes: number;
}

export const STATS_PATH = "/__null-s3/objects";

const xml = (body: string) => `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function startNullS3(bucket: string, port = 0): Promise<{ server: Server; port: number; stats: SinkStats }> {
  const stats: SinkStats = { objects: {}, operations: {}, bytes: 0 };
  const uploads = new Map<string, { key: string; size: number }>();
  /** Metadata is fixed when a multipart upload starts. */
  const pendingMetadata = new Map<string, Record<string, string>>();
  let nextUpload = 1;

  const count = (operation: string) => (stats.operations[operation] = (stats.operations[operation] ?? 0) + 1);

  /** Reads the body to its end; its size and SHA-256. */
  const consume = (req: IncomingMessage, hash: boolean) =>
    new Promise<{ size: number; sha256?: string; text: string }>((resolve, reject) => {
      const h = hash ? createHash("sha256") : undefined;
      let size = 0;
      const small: Buffer[] = [];
      req.on("data", (chunk: Buffer) => {
        size += chunk.length;
        h?.update(chunk);
        if (!hash && size <= 1024 * 1024) small.push(chunk);
      });
      req.on("end", () => {
        stats.bytes += size;
        resolve({ size, sha256: h?.digest("hex"), text: Buffer.concat(small).toString("utf8") });
      });
      req.on("error", reject);
    });

  const error = (res: ServerResponse, status: number, code: string, message: string) => {
    res.writeHead(status, { "Content-Type": "application/xml" });
    res.end(xml(`<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`));
  };

  const metadataOf = (req: IncomingMessage) => {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (name.startsWith("x-amz-meta-") && typeof value === "string") out[name.slice(11)] = value;
    return out;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://sink");
    if (url.pathname === STATS_PATH) {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify(stats));
      return;
    }
    const [, b, ...rest] = url.pathname.split("/");
    const key = rest.map(decodeURIComponent).join("/");
    const q = url.searchParams;
    if (decodeURIComponent(b ?? "") !== bucket) {
      await consume(req, false);
      return error(res, 404, "NoSuchBucket", "The specified bucket does not exist");
    }
    const method = req.method ?? "GET";

    if (key === "") {
      if (method === "HEAD") {
        count("HeadBucket");
        res.writeHead(200).end();
        return;
      }
      if (method === "GET" && q.get("list-type") === "2") {
        count("ListObjectsV2");
        const prefix = q.get("prefix") ?? "";
        const keys = Object.keys(stats.objects)
          .filter((k) => k.startsWith(prefix))
          .sort();
        res.writeHead(200, { "Content-Type": "application/xml" });
        res.end(
          xml(
            `<ListBucketResult><Name>${bucket}</Name><Prefix>${escapeXml(prefix)}</Prefix><KeyCount>${keys.length}</KeyCount><MaxKeys>1000000</MaxKeys><IsTruncated>false</IsTruncated>` +
              keys.map((k) => `<Contents><Key>${escapeXml(k)}</Key><Size>${stats.objects[k]!.size}</Size></Contents>`).join("") +
              `</ListBucketResult>`,
          ),
        );
        return;
      }
      await consume(req, false);
      return error(res, 501, "NotImplemented", `${method} on the bucket is not implemented by the null sink`);
    }

    const object = stats.objects[key];
    if (method === "HEAD") {
      count("HeadObject");
      if (!object) {
        res.writeHead(404).end();
        return;
      }
      const headers: Record<string, string> = { "Content-Length": String(object.size), ETag: '"0"', "Content-Type": "application/dicom" };
      for (const [k, v] of Object.entries(object.metadata)) headers[`x-amz-meta-${k}`] = v;
      res.writeHead(200, headers).end();
      return;
    }
    if (method === "PUT" && q.has("uploadId")) {
      count("UploadPart");
      const upload = uploads.get(q.get("uploadId")!);
      const body = await consume(req, false);
      if (!upload) return error(res, 404, "NoSuchUpload", "The specified upload does not exist");
      upload.size += body.size;
      res.writeHead(200, { ETag: `"part-${q.get("partNumber")}"` }).end();
      return;
    }
    if (method === "PUT" && q.has("tagging")) {
      count("PutObjectTagging");
      const body = await consume(req, false);
      if (!object) return error(res, 404, "NoSuchKey", "The specified key does not exist");
      for (const m of body.text.matchAll(/<Tag><Key>([^<]*)<\/Key><Value>([^<]*)<\/Value><\/Tag>/g)) object.tags[m[1]!] = m[2]!;
      res.writeHead(200).end();
      return;
    }
    if (method === "PUT") {
      count("PutObject");
      // Refuse before reading, as S3 does: the body is read (and dropped) all the same.
      const refused = req.headers["if-none-match"] === "*" && object !== undefined;
      const body = await consume(req, !refused);
      if (refused) return error(res, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold");
      stats.objects[key] = { size: body.size, sha256: body.sha256, metadata: metadataOf(req), tags: {} };
      res.writeHead(200, { ETag: `"${body.sha256!.slice(0, 32)}"` }).end();
      return;
    }
    if (method === "POST" && q.has("uploads")) {
      count("CreateMultipartUpload");
      await consume(req, false);
      const id = `upload-${nextUpload++}`;
      uploads.set(id, { key, size: 0 });
      pendingMetadata.set(id, metadataOf(req));
      res.writeHead(200, { "Content-Type": "application/xml" });
      res.end(xml(`<InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${escapeXml(key)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`));
      return;
    }
    if (method === "POST" && q.has("uploadId")) {
      count("CompleteMultipartUpload");
      await consume(req, false);
      const id = q.get("uploadId")!;
      const upload = uploads.get(id);
      if (!upload) return error(res, 404, "NoSuchUpload", "The specified upload does not exist");
      uploads.delete(id);
      stats.objects[key] = { size: upload.size, metadata: pendingMetadata.get(id) ?? {}, tags: {} };
      pendingMetadata.delete(id);
      res.writeHead(200, { "Content-Type": "application/xml" });
      res.end(xml(`<CompleteMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${escapeXml(key)}</Key><ETag>"multipart"</ETag></CompleteMultipartUploadResult>`));
      return;
    }
    if (method === "DELETE" && q.has("uploadId")) {
      count("AbortMultipartUpload");
      await consume(req, false);
      uploads.delete(q.get("uploadId")!);
      pendingMetadata.delete(q.get("uploadId")!);
      res.writeHead(204).end();
      return;
    }
    if (method === "DELETE") {
      count("DeleteObject");
      await consume(req, false);
      delete stats.objects[key];
      res.writeHead(204).end();
      return;
    }
    if (method === "GET" && q.has("tagging")) {
      count("GetObjectTagging");
      if (!object) return error(res, 404, "NoSuchKey", "The specified key does not exist");
      res.writeHead(200, { "Content-Type": "application/xml" });
      res.end(
        xml(
          `<Tagging><TagSet>${Object.entries(object.tags)
            .map(([k, v]) => `<Tag><Key>${escapeXml(k)}</Key><Value>${escapeXml(v)}</Value></Tag>`)
            .join("")}</TagSet></Tagging>`,
        ),
      );
      return;
    }
    count(`${method} (not implemented)`);
    await consume(req, false);
    if (method === "GET" && !object) return error(res, 404, "NoSuchKey", "The specified key does not exist");
    return error(res, 501, "NotImplemented", `the null sink keeps no bytes and does not implement ${method} here`);
  };

  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) error(res, 500, "InternalError", String(err));
      else res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve({ server, port: (server.address() as { port: number }).port, stats }));
  });
}
