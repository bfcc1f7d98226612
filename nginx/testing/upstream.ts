// A stand-in for the app that records what nginx forwards: method, path,
// headers, body digest, and which upstream connection carried it.
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";

export interface Recorded {
  method: string;
  url: string;
  httpVersion: string;
  headers: IncomingHttpHeaders;
  bytes: number;
  sha256: string;
  /** Number of the upstream TCP connection, in order of arrival. */
  connection: number;
}

export interface RecordingUpstream {
  port: number;
  requests: Recorded[];
  /** Bytes received so far by requests still in progress. */
  bytesInFlight(): number;
  /** Paths of the requests whose body is still arriving. */
  inProgress(): string[];
  /** What GET /ready answers. */
  readyStatus: number;
  stop(): Promise<void>;
}

export async function startRecordingUpstream(): Promise<RecordingUpstream> {
  const requests: Recorded[] = [];
  let inFlight = 0;
  let connections = 0;
  const open: string[] = [];
  const ids = new WeakMap<object, number>();
  const state = { readyStatus: 200 };

  const server: Server = createServer((req, res) => {
    const hash = createHash("sha256");
    let bytes = 0;
    open.push(req.url ?? "");
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      open.splice(open.indexOf(req.url ?? ""), 1);
    };
    // A body cut off never ends, but its request closes.
    req.on("close", done);
    req.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
      inFlight += chunk.length;
    });
    req.on("end", () => {
      done();
      inFlight -= bytes;
      const recorded: Recorded = {
        method: req.method ?? "",
        url: req.url ?? "",
        httpVersion: req.httpVersion,
        headers: req.headers,
        bytes,
        sha256: hash.digest("hex"),
        connection: ids.get(req.socket) ?? -1,
      };
      requests.push(recorded);
      if (req.url === "/ready") {
        res.writeHead(state.readyStatus, { "content-type": "text/plain" }).end(state.readyStatus === 200 ? "ready\n" : "not ready\n");
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(recorded));
    });
  });
  server.on("connection", (socket) => ids.set(socket, ++connections));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    requests,
    bytesInFlight: () => inFlight,
    inProgress: () => [...open],
    get readyStatus() {
      return state.readyStatus;
    },
    set readyStatus(v: number) {
      state.readyStatus = v;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
