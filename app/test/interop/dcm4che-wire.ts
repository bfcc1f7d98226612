// A pass-through TCP proxy on 127.0.0.1 that keeps every byte the client sent,
// and a strict reader of those bytes as HTTP/1.1 requests, so the dcm4che test
// checks the request on the wire rather than what it meant to send.
import { connect, createServer, type Socket } from "node:net";

export interface WireRecorder {
  /** http://127.0.0.1:<port> forwarding to the target. */
  url: string;
  /** Bytes sent by clients, one Buffer per connection, since the last call; then forgets them. */
  take(): Buffer[];
  close(): Promise<void>;
}

export async function startWireRecorder(target: string): Promise<WireRecorder> {
  const { hostname, port } = new URL(target);
  let recorded: Buffer[][] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const chunks: Buffer[] = [];
    recorded.push(chunks);
    const upstream = connect(Number(port), hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    }
    client.on("data", (d: Buffer) => chunks.push(d));
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("wire recorder has no TCP address");
  return {
    url: `http://127.0.0.1:${address.port}`,
    take() {
      const out = recorded.map((c) => Buffer.concat(c));
      recorded = [];
      return out;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export interface WireRequest {
  requestLine: string;
  /** Header fields in the order sent, names as sent. */
  headers: Array<[string, string]>;
  /** Data size of every chunk (last-chunk excluded), or null for a Content-Length body. */
  chunkSizes: number[] | null;
  body: Buffer;
}

export function header(req: WireRequest, name: string): string | undefined {
  return req.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

function lineAt(raw: Buffer, pos: number): { line: string; next: number } {
  const end = raw.indexOf("\r\n", pos);
  if (end === -1) throw new Error(`no CRLF after byte ${pos}`);
  return { line: raw.subarray(pos, end).toString("latin1"), next: end + 2 };
}

/** Reads every request on one connection; throws on anything that is not well-formed HTTP/1.1. */
export function readRequests(raw: Buffer): WireRequest[] {
  const requests: WireRequest[] = [];
  let pos = 0;
  while (pos < raw.length) {
    const first = lineAt(raw, pos);
    const requestLine = first.line;
    let next = first.next;
    const headers: Array<[string, string]> = [];
    for (;;) {
      const { line, next: after } = lineAt(raw, next);
      next = after;
      if (line === "") break;
      const colon = line.indexOf(":");
      if (colon <= 0) throw new Error(`malformed header line ${JSON.stringify(line)}`);
      headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
    }
    const req: WireRequest = { requestLine, headers, chunkSizes: null, body: Buffer.alloc(0) };
    if (header(req, "transfer-encoding")?.toLowerCase() === "chunked") {
      const sizes: number[] = [];
      const data: Buffer[] = [];
      for (;;) {
        const { line, next: dataStart } = lineAt(raw, next);
        if (!/^[0-9a-f]+$/.test(line)) throw new Error(`chunk size line ${JSON.stringify(line)}`);
        const size = parseInt(line, 16);
        if (size === 0) {
          // No trailers: the last-chunk is followed by the final CRLF.
          if (raw.subarray(dataStart, dataStart + 2).toString("latin1") !== "\r\n") throw new Error("trailer after last-chunk");
          next = dataStart + 2;
          break;
        }
        sizes.push(size);
        data.push(raw.subarray(dataStart, dataStart + size));
        if (raw.subarray(dataStart + size, dataStart + size + 2).toString("latin1") !== "\r\n") throw new Error("chunk data not followed by CRLF");
        next = dataStart + size + 2;
      }
      req.chunkSizes = sizes;
      req.body = Buffer.concat(data);
    } else {
      const length = Number(header(req, "content-length") ?? "0");
      req.body = raw.subarray(next, next + length);
      if (req.body.length !== length) throw new Error(`body shorter than Content-Length ${length}`);
      next += length;
    }
    requests.push(req);
    pos = next;
  }
  return requests;
}
