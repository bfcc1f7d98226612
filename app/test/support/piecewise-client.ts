// Test harness: a STOW-RS client that sends its body piece by piece (chunked), so a test can act
// between pieces (kill S3, send SIGTERM, wait for an upload to start) or vanish mid-body.
import { request as httpRequest, type ClientRequest } from "node:http";
import { stowReply, type StowReply } from "./stow-client.js";

export interface PiecewisePost {
  /** Sends bytes; resolves once the socket took them (waits while the service applies backpressure). */
  write(chunk: Uint8Array): Promise<void>;
  /** Sends the rest of the body. */
  end(): void;
  /** Drops the connection without finishing the body, as a client that vanishes. */
  vanish(): void;
  /** The service's answer, or the reason none came (connection reset, refused, ...). */
  answer: Promise<StowReply>;
  request: ClientRequest;
}

export function piecewisePost(url: string, contentType: string, headers: Record<string, string> = {}): PiecewisePost {
  const req = httpRequest(url, {
    method: "POST",
    headers: { "Content-Type": contentType, "Transfer-Encoding": "chunked", Accept: "application/dicom+json", ...headers },
  });
  const startedAt = performance.now();
  const answer = new Promise<StowReply>((resolve, reject) => {
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => resolve(stowReply(res.statusCode!, res.headers, Buffer.concat(chunks).toString("utf8"), startedAt)));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
  // Callers that vanish on purpose may never look at the answer.
  answer.catch(() => undefined);
  return {
    request: req,
    answer,
    write: (chunk) =>
      new Promise<void>((resolve, reject) => {
        if (req.destroyed) return reject(new Error("connection already closed"));
        const onError = (err: Error) => reject(err);
        req.once("error", onError);
        const flushed = req.write(chunk, () => {
          req.off("error", onError);
          if (flushed) resolve();
        });
        if (!flushed) {
          req.once("drain", () => {
            req.off("error", onError);
            resolve();
          });
        }
      }),
    end: () => req.end(),
    vanish: () => req.destroy(),
  };
}

/** Writes a buffer in pieces of `size`, calling `between(sentSoFar)` after each. */
export async function writeInPieces(post: PiecewisePost, data: Buffer, size: number, between?: (sent: number) => Promise<void> | void): Promise<void> {
  for (let at = 0; at < data.length; at += size) {
    const piece = data.subarray(at, Math.min(at + size, data.length));
    await post.write(piece);
    await between?.(at + piece.length);
  }
}
