// An instance's bytes as the chunks they arrived in, sent in one PutObject without first being
// joined into one buffer (a copy of every byte into fresh memory, per instance). put-object.ts
// writes the chunks itself on every attempt. Where the SDK sends the PutObject instead: the SDK
// retries a request with a Buffer body but not one with a stream body, which can be read only
// once; this body is neither, and the request handler (s3-client.ts) makes a new stream of it per
// attempt, while whatever else in the SDK would have to read the body is given its answer up
// front: the Content-Length, the SHA-256 for SigV4 and, on AWS, the CRC32 checksum header.
import { Readable } from "node:stream";

export class ChunkedBody {
  constructor(
    readonly chunks: readonly Buffer[],
    readonly byteLength: number,
  ) {}

  /** The bytes from the start, for one attempt. */
  stream(): Readable {
    const chunks = this.chunks;
    return new Readable({
      // All at once: they are in memory already, and the socket then gets them in one writev.
      read() {
        for (const chunk of chunks) this.push(chunk);
        this.push(null);
      },
    });
  }
}
