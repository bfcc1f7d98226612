// Streaming reader for multipart bodies (RFC 2046 / RFC 2387).
//
// It pulls chunks from the source only when its caller asks for data, so a slow consumer
// (an S3 upload) slows down reading the request: memory stays bounded by one chunk plus
// a boundary-sized tail, whatever the size of a part or of the request.

export class MultipartError extends Error {
  constructor(
    message: string,
    /** "limit": part headers or preamble over their limits; "parts": more parts than maxParts. */
    readonly kind: "framing" | "truncated" | "limit" | "parts",
  ) {
    super(message);
    this.name = "MultipartError";
  }
}

export interface PartHead {
  /** 0-based position of the part in the body. */
  index: number;
  /** Header names lower-cased. */
  headers: Map<string, string>;
}

export interface MultipartLimits {
  /** Largest header block of one part. */
  maxHeaderBytes: number;
  /** Largest run of bytes before the first delimiter. */
  maxPreambleBytes: number;
  /**
   * Most parts in one body. Each part is answered for (an outcome, an item in the response), so
   * without it a few MiB of empty parts would buy hundreds of MiB of answers.
   */
  maxParts: number;
}

export const MULTIPART_LIMITS: MultipartLimits = { maxHeaderBytes: 16 * 1024, maxPreambleBytes: 64 * 1024, maxParts: 10_000 };

const CR = 0x0d;
const LF = 0x0a;
const HYPHEN = 0x2d;
const CRLF = Buffer.from("\r\n", "latin1");
const CRLFCRLF = Buffer.from("\r\n\r\n", "latin1");
const EMPTY = Buffer.alloc(0);
/** Transport padding allowed after a boundary, before its CRLF. */
const MAX_PADDING = 64;

type Delimiter =
  | { kind: "next"; headersStart: number }
  | { kind: "close" }
  | { kind: "more" }
  | { kind: "none" };

export class MultipartReader {
  private readonly delimiter: Buffer;
  // The virtual CRLF lets a delimiter at the very start of the body match like any other.
  private buf: Buffer = Buffer.from("\r\n", "latin1");
  private ended = false;
  private state: "preamble" | "headers" | "body" | "done" = "preamble";
  private partIndex = -1;
  private preambleBytes = 0;
  private readonly limits: MultipartLimits;

  constructor(
    private readonly source: AsyncIterator<Uint8Array>,
    boundary: string,
    limits: Partial<MultipartLimits> = {},
  ) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`, "latin1");
    this.limits = { ...MULTIPART_LIMITS, ...limits };
  }

  /** True once the close delimiter has been read. */
  get closed(): boolean {
    return this.state === "done";
  }

  /** Moves to the next part (skipping what is left of the current one); null after the close delimiter. */
  async nextPart(): Promise<PartHead | null> {
    if (this.state === "body") await this.skipBody();
    if (this.state === "done") return null;
    if (this.state === "preamble" && !(await this.findFirstDelimiter())) return null;
    if (this.partIndex + 1 >= this.limits.maxParts) {
      throw new MultipartError(`more than ${this.limits.maxParts} parts in one request; send the rest in another request`, "parts");
    }
    const headers = await this.readHeaders();
    this.state = "body";
    this.partIndex += 1;
    return { index: this.partIndex, headers };
  }

  /** Next chunk of the current part's data; null at the end of the part. */
  async readBody(): Promise<Buffer | null> {
    while (this.state === "body") {
      // Boundary-like bytes that are not a delimiter belong to the data: look past them at once,
      // so that data full of look-alikes still comes out in whole chunks, not a few bytes at a time.
      const found = this.nextDelimiter();
      if (found) {
        const { i, d } = found;
        if (d.kind === "more") {
          if (i > 0) {
            const data = this.buf.subarray(0, i);
            this.buf = this.buf.subarray(i);
            return data;
          }
          await this.pull();
          continue;
        }
        const data = this.buf.subarray(0, i);
        if (d.kind === "close") {
          this.state = "done";
          this.buf = EMPTY;
        } else {
          this.state = "headers";
          this.buf = this.buf.subarray(d.headersStart);
        }
        return data.length ? data : null;
      }
      const keep = this.tailToKeep();
      if (this.buf.length > keep) {
        const data = this.buf.subarray(0, this.buf.length - keep);
        this.buf = this.buf.subarray(this.buf.length - keep);
        return data;
      }
      if (!(await this.pull())) {
        throw new MultipartError("request body ended inside a part, before its closing boundary", "truncated");
      }
    }
    return null;
  }

  /** Reads and discards the rest of the current part. */
  async skipBody(): Promise<void> {
    while ((await this.readBody()) !== null);
  }

  /** Reads and discards whatever follows (the epilogue), so the request can finish cleanly. */
  async drain(): Promise<void> {
    this.buf = EMPTY;
    while (await this.pull()) this.buf = EMPTY;
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.source.next();
    if (r.done) {
      this.ended = true;
      return false;
    }
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    if (chunk.length) this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    return true;
  }

  /** The first delimiter in buf, or bytes that might still turn out to be one ("more"); null when there is neither. */
  private nextDelimiter(): { i: number; d: Exclude<Delimiter, { kind: "none" }> } | null {
    for (let i = this.buf.indexOf(this.delimiter); i !== -1; i = this.buf.indexOf(this.delimiter, i + 1)) {
      const d = this.classify(i);
      if (d.kind !== "none") return { i, d };
    }
    return null;
  }

  /** Bytes at the end of buf that might be the start of a delimiter. */
  private tailToKeep(): number {
    const window = Math.min(this.buf.length, this.delimiter.length - 1);
    const start = this.buf.length - window;
    const cr = this.buf.indexOf(CR, start);
    return cr === -1 ? 0 : this.buf.length - cr;
  }

  /** Decides whether the delimiter-like bytes at i really are a delimiter line. */
  private classify(i: number): Delimiter {
    const b = this.buf;
    const after = i + this.delimiter.length;
    if (b.length < after + 2) {
      if (!this.ended) return { kind: "more" };
      // The body stops right after the boundary: take it as a close delimiter without its "--".
      const rest = b.subarray(after);
      return rest.every((c) => c === HYPHEN || c === 0x20 || c === 0x09 || c === CR) ? { kind: "close" } : { kind: "none" };
    }
    if (b[after] === HYPHEN && b[after + 1] === HYPHEN) return { kind: "close" };
    let j = after;
    while (j < b.length && j - after < MAX_PADDING && (b[j] === 0x20 || b[j] === 0x09)) j++;
    if (j + 1 >= b.length) {
      if (!this.ended && j - after < MAX_PADDING) return { kind: "more" };
      return { kind: "none" };
    }
    if (b[j] === CR && b[j + 1] === LF) return { kind: "next", headersStart: j };
    return { kind: "none" };
  }

  private async findFirstDelimiter(): Promise<boolean> {
    for (;;) {
      const i = this.buf.indexOf(this.delimiter);
      if (i === -1) {
        const keep = Math.min(this.buf.length, this.delimiter.length - 1);
        this.preambleBytes += this.buf.length - keep;
        this.buf = this.buf.subarray(this.buf.length - keep);
        if (this.preambleBytes > this.limits.maxPreambleBytes) {
          throw new MultipartError(`no multipart boundary found in the first ${this.limits.maxPreambleBytes} bytes of the body`, "framing");
        }
        if (!(await this.pull())) throw new MultipartError("the body contains no multipart boundary delimiter", "framing");
        continue;
      }
      const d = this.classify(i);
      if (d.kind === "more") {
        await this.pull();
        continue;
      }
      if (d.kind === "none") {
        this.preambleBytes += i + 1;
        this.buf = this.buf.subarray(i + 1);
        continue;
      }
      if (d.kind === "close") {
        this.state = "done";
        return false;
      }
      this.buf = this.buf.subarray(d.headersStart);
      this.state = "headers";
      return true;
    }
  }

  /** buf starts at the CRLF that ends a delimiter line; reads up to the blank line. */
  private async readHeaders(): Promise<Map<string, string>> {
    if (await this.delimiterFollows()) return new Map();
    for (;;) {
      const end = this.buf.indexOf(CRLFCRLF);
      if (end !== -1) {
        if (end > this.limits.maxHeaderBytes) break;
        const block = this.buf.subarray(2, end).toString("latin1");
        this.buf = this.buf.subarray(end + 4);
        return parseHeaderBlock(block);
      }
      if (this.buf.length > this.limits.maxHeaderBytes) break;
      if (!(await this.pull())) throw new MultipartError("request body ended inside the headers of a part", "truncated");
    }
    throw new MultipartError(`the headers of a part exceed ${this.limits.maxHeaderBytes} bytes`, "limit");
  }

  /**
   * RFC 2046 allows a body part with neither headers nor data: the CRLF that ends its delimiter
   * line is followed at once by the next delimiter (CRLF "--" boundary). .NET writes exactly that
   * for a MultipartContent with nothing added: "--b" CRLF CRLF "--b--". buf starts at the CRLF that
   * ends the delimiter line; when a delimiter follows it, the part is empty, and readBody finds it.
   */
  private async delimiterFollows(): Promise<boolean> {
    const expected = Buffer.concat([CRLF, this.delimiter]);
    while (this.buf.length < expected.length && expected.subarray(0, this.buf.length).equals(this.buf)) {
      if (!(await this.pull())) return false;
    }
    if (!this.buf.subarray(0, expected.length).equals(expected)) return false;
    this.buf = this.buf.subarray(CRLF.length);
    for (;;) {
      const d = this.classify(0);
      if (d.kind === "none") {
        this.buf = Buffer.concat([CRLF, this.buf]);
        return false;
      }
      if (d.kind !== "more") return true;
      await this.pull();
    }
  }
}

function parseHeaderBlock(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  if (block === "") return headers;
  const lines: string[] = [];
  for (const line of block.split("\r\n")) {
    // Obsolete line folding: a continuation line starts with white space.
    if ((line.startsWith(" ") || line.startsWith("\t")) && lines.length) lines[lines.length - 1] += " " + line.trim();
    else lines.push(line);
  }
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return headers;
}

/** Iterates over a Node stream, a web ReadableStream or any async iterable of byte chunks. */
export function chunksOf(source: AsyncIterable<Uint8Array>): AsyncIterator<Uint8Array> {
  return source[Symbol.asyncIterator]();
}
