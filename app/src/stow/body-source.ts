// The request body as a source for the part readers (multipart or single-part): counted against
// MAX_REQUEST_BYTES, with a vanished client turned into a truncation the store transaction understands.
import { MultipartError } from "../multipart/reader.js";

export class RequestTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds MAX_REQUEST_BYTES (${limit} bytes)`);
    this.name = "RequestTooLarge";
  }
}

export async function* limitedBody(
  body: AsyncIterable<Uint8Array>,
  maxBytes: number,
  onBytes: (n: number) => void,
): AsyncGenerator<Uint8Array> {
  let total = 0;
  try {
    for await (const chunk of body) {
      total += chunk.byteLength;
      if (total > maxBytes) throw new RequestTooLarge(maxBytes);
      onBytes(chunk.byteLength);
      yield chunk;
    }
  } catch (err) {
    if (err instanceof RequestTooLarge) throw err;
    throw new MultipartError(`the request body could not be read to its end (${(err as Error).message ?? err})`, "truncated");
  }
}
