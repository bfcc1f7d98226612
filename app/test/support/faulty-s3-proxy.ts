// Test harness: an HTTP proxy on 127.0.0.1 between the service and the S3 test server that can
// make chosen S3 requests fail the ways S3 fails: 500/503/SlowDown XML errors, slow answers,
// connections cut while the request is sent, and answers lost after S3 did the work.
// It records every request it sees, so tests can count attempts and check what reached S3.
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type S3Operation =
  | "PutObject"
  | "CreateMultipartUpload"
  | "UploadPart"
  | "CompleteMultipartUpload"
  | "AbortMultipartUpload"
  | "HeadObject"
  | "GetObject"
  | "DeleteObject"
  | "GetObjectTagging"
  | "PutObjectTagging"
  | "HeadBucket"
  | "ListObjects"
  | "Other";

export interface ProxiedRequest {
  /** 0-based order of arrival. */
  n: number;
  operation: S3Operation;
  method: string;
  /** Object key (URL-decoded), when the request names one. */
  key?: string;
  /** ms since the proxy started. */
  at: number;
  /** What the proxy did: "forwarded", or the fault's kind. */
  handling: "forwarded" | Fault["kind"];
  /** Status sent back to the service, when one was sent. */
  status?: number;
}

export type Fault =
  /** Answer with an S3 error document without forwarding (after reading the request body). */
  | { kind: "error"; status: number; code: string; message?: string }
  /** Wait this long before forwarding (the body stays unread meanwhile). */
  | { kind: "delay"; ms: number }
  /** Read this many body bytes (default: all), then drop the connection without forwarding. */
  | { kind: "cut"; afterBytes?: number }
  /** Forward, let S3 do the work, then drop the connection instead of relaying the answer. */
  | { kind: "lose-answer" };

export interface FaultRule {
  match: (r: { operation: S3Operation; method: string; key?: string; n: number }) => boolean;
  fault: Fault;
  /** How many matching requests get the fault; unlimited when unset. */
  times?: number;
}

export interface FaultyS3Proxy {
  endpoint: string;
  port: number;
  requests: ProxiedRequest[];
  /** Rules are tried in the order added; the first that matches (and has uses left) applies. */
  addRule(rule: FaultRule): void;
  clearRules(): void;
  /** Requests of one operation (optionally for one key). */
  count(operation: S3Operation, key?: string): number;
  close(): Promise<void>;
}

export function classify(method: string, url: URL): { operation: S3Operation; key?: string } {
  const q = url.searchParams;
  // Path-style: /bucket[/key]
  const [, , ...rest] = url.pathname.split("/");
  const key = rest.length ? decodeURIComponent(rest.join("/")) : undefined;
  const m = method.toUpperCase();
  if (key === undefined || key === "") {
    if (m === "HEAD") return { operation: "HeadBucket" };
    if (m === "GET") return { operation: "ListObjects" };
    return { operation: "Other" };
  }
  if (q.has("tagging")) return { operation: m === "GET" ? "GetObjectTagging" : m === "PUT" ? "PutObjectTagging" : "Other", key };
  if (m === "POST" && q.has("uploads")) return { operation: "CreateMultipartUpload", key };
  if (m === "PUT" && q.has("uploadId") && q.has("partNumber")) return { operation: "UploadPart", key };
  if (m === "POST" && q.has("uploadId")) return { operation: "CompleteMultipartUpload", key };
  if (m === "DELETE" && q.has("uploadId")) return { operation: "AbortMultipartUpload", key };
  if (m === "PUT") return { operation: "PutObject", key };
  if (m === "HEAD") return { operation: "HeadObject", key };
  if (m === "GET") return { operation: "GetObject", key };
  if (m === "DELETE") return { operation: "DeleteObject", key };
  return { operation: "Other", key };
}

function errorDocument(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>FAULTYPROXY</RequestId><HostId>faulty-s3-proxy</HostId></Error>`;
}

/** Starts the proxy in front of the S3 server at `upstreamPort()` (read per request, so restarts are followed). */
export async function startFaultyS3Proxy(upstreamPort: () => number): Promise<FaultyS3Proxy> {
  const started = Date.now();
  const rules: Array<FaultRule & { used: number }> = [];
  const requests: ProxiedRequest[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const sockets = new Set<Socket>();

  const pickFault = (info: { operation: S3Operation; method: string; key?: string; n: number }): Fault | undefined => {
    for (const rule of rules) {
      if ((rule.times === undefined || rule.used < rule.times) && rule.match(info)) {
        rule.used += 1;
        return rule.fault;
      }
    }
    return undefined;
  };

  const drainBody = (req: IncomingMessage) =>
    new Promise<void>((resolve) => {
      if (req.complete) return resolve();
      req.on("end", resolve).on("close", resolve).on("error", resolve).resume();
    });

  const forward = (req: IncomingMessage, res: ServerResponse, record: ProxiedRequest, loseAnswer: boolean) => {
    const headers = { ...req.headers };
    // The proxy already answered 100-continue itself; the upstream gets the body straight away.
    delete headers.expect;
    const upstream = httpRequest(
      { host: "127.0.0.1", port: upstreamPort(), method: req.method, path: req.url, headers, agent },
      (up) => {
        if (loseAnswer) {
          up.resume();
          up.on("end", () => req.socket.destroy());
          return;
        }
        record.status = up.statusCode;
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => req.socket.destroy());
    // The service gave up (or the answer was relayed): nothing more to do upstream.
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://proxy");
    const { operation, key } = classify(req.method ?? "GET", url);
    const n = requests.length;
    const fault = pickFault({ operation, method: req.method ?? "GET", key, n });
    const record: ProxiedRequest = { n, operation, method: req.method ?? "GET", key, at: Date.now() - started, handling: fault?.kind ?? "forwarded" };
    requests.push(record);
    if (!fault) return forward(req, res, record, false);
    switch (fault.kind) {
      case "error": {
        await drainBody(req);
        const body = req.method === "HEAD" ? "" : errorDocument(fault.code, fault.message ?? `injected ${fault.code}`);
        record.status = fault.status;
        res.writeHead(fault.status, { "Content-Type": "application/xml", "Content-Length": Buffer.byteLength(body), "x-amz-request-id": "FAULTYPROXY" });
        res.end(body);
        return;
      }
      case "delay": {
        req.pause();
        await new Promise((r) => setTimeout(r, fault.ms));
        // The service may have given up meanwhile; then there is nothing to forward.
        if (req.socket.destroyed) return;
        return forward(req, res, record, false);
      }
      case "cut": {
        if (fault.afterBytes === undefined) {
          await drainBody(req);
          req.socket.destroy();
          return;
        }
        let seen = 0;
        if (fault.afterBytes <= 0) return void req.socket.destroy();
        req.on("data", (d: Buffer) => {
          seen += d.length;
          if (seen >= fault.afterBytes!) req.socket.destroy();
        });
        req.on("end", () => req.socket.destroy());
        return;
      }
      case "lose-answer":
        return forward(req, res, record, true);
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    requests,
    addRule: (rule) => rules.push({ ...rule, used: 0 }),
    clearRules: () => void rules.splice(0),
    count: (operation, key) => requests.filter((r) => r.operation === operation && (key === undefined || r.key === key)).length,
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      agent.destroy();
      await closed;
    },
  };
}
