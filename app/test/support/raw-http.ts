// Test harness: HTTP/1.1 exchanges over a bare TCP socket, for requests no well-behaved client
// library would send (lying Content-Length, broken framing, oversized lines, slow headers).
import { connect } from "node:net";

export interface RawOutcome {
  /** Status codes of the responses received, in order (usually one). */
  statuses: number[];
  /** Head and body of everything received. */
  text: string;
  /** The server closed the connection. */
  closed: boolean;
  /** Nothing more arrived within the time allowed. */
  timedOut: boolean;
}

export interface RawOptions {
  /** Sent one after another; a number instead of bytes pauses that many ms. */
  pieces?: Array<Uint8Array | string | number>;
  /** Half-close (FIN) after the last piece. */
  halfClose?: boolean;
  timeoutMs?: number;
}

/** Sends `request` (and any further pieces) to 127.0.0.1:port and collects the answer. */
export function rawExchange(port: number, request: Uint8Array | string, opts: RawOptions = {}): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const received: Buffer[] = [];
    let settled = false;
    const finish = (closed: boolean, timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(received).toString("latin1");
      const statuses = [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
      resolve({ statuses, text, closed, timedOut });
    };
    const timer = setTimeout(() => finish(false, true), opts.timeoutMs ?? 15_000);
    socket.on("data", (d: Buffer) => {
      received.push(d);
      if (responseComplete(Buffer.concat(received).toString("latin1"))) finish(false, false);
    });
    socket.on("end", () => finish(true, false));
    socket.on("close", () => finish(true, false));
    socket.on("error", () => finish(true, false));
    socket.on("connect", async () => {
      try {
        socket.write(request);
        for (const piece of opts.pieces ?? []) {
          if (settled) return;
          if (typeof piece === "number") await new Promise((r) => setTimeout(r, piece));
          else socket.write(piece);
        }
        if (opts.halfClose) socket.end();
      } catch {
        /* the server may have closed already */
      }
    });
  });
}

/** Whether `text` holds one complete response (Content-Length or chunked framing). */
function responseComplete(text: string): boolean {
  const headEnd = text.indexOf("\r\n\r\n");
  if (headEnd === -1) return false;
  const head = text.slice(0, headEnd).toLowerCase();
  const body = text.slice(headEnd + 4);
  const length = /\r\ncontent-length: *(\d+)/.exec(head);
  if (length) return body.length >= Number(length[1]);
  if (/\r\ntransfer-encoding: *chunked/.test(head)) return body.includes("0\r\n\r\n");
  return false;
}
