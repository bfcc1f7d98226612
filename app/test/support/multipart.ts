// multipart/related bodies as STOW-RS clients frame them: per-part headers of any kind, an
// optional preamble, with or without the CRLF after the close delimiter.

export interface PartSpec {
  body: Buffer;
  /** Content-Type of the part; null leaves the header out. Default application/dicom. */
  contentType?: string | null;
  headers?: Record<string, string>;
}

export interface MultipartOptions {
  /** Bytes before the first delimiter (a CRLF, as dicomweb-client sends, or any preamble). */
  preamble?: string;
  /** Whether a CRLF follows the close delimiter. Default true. */
  trailingCrlf?: boolean;
}

function partHead(spec: PartSpec, first: boolean, boundary: string): Buffer {
  const headers: string[] = [];
  const ct = spec.contentType === undefined ? "application/dicom" : spec.contentType;
  if (ct !== null) headers.push(`Content-Type: ${ct}`);
  for (const [k, v] of Object.entries(spec.headers ?? {})) headers.push(`${k}: ${v}`);
  const headerBlock = headers.map((h) => `${h}\r\n`).join("");
  return Buffer.from(`${first ? "" : "\r\n"}--${boundary}\r\n${headerBlock}\r\n`, "latin1");
}

function closeDelimiter(boundary: string, trailingCrlf = true): Buffer {
  return Buffer.from(`\r\n--${boundary}--${trailingCrlf ? "\r\n" : ""}`, "latin1");
}

/** The body as the buffers it is made of; the parts' bytes are not copied (benchmarks send thousands). */
export function multipartChunks(parts: Array<Buffer | PartSpec>, boundary: string, opts: MultipartOptions = {}): Buffer[] {
  const chunks: Buffer[] = [];
  if (opts.preamble) chunks.push(Buffer.from(opts.preamble, "latin1"));
  parts.forEach((p, i) => {
    const spec: PartSpec = Buffer.isBuffer(p) ? { body: p } : p;
    chunks.push(partHead(spec, i === 0, boundary), spec.body);
  });
  chunks.push(closeDelimiter(boundary, opts.trailingCrlf !== false));
  return chunks;
}

export function multipartBody(parts: Array<Buffer | PartSpec>, boundary: string, opts: MultipartOptions = {}): Buffer {
  return Buffer.concat(multipartChunks(parts, boundary, opts));
}

/** What goes before and after the one application/dicom part of a body whose instance is streamed. */
export function multipartFrame(boundary: string): { head: Buffer; tail: Buffer } {
  return { head: partHead({ body: Buffer.alloc(0) }, true, boundary), tail: closeDelimiter(boundary) };
}

export function multipartContentType(boundary: string): string {
  return `multipart/related; type="application/dicom"; boundary=${boundary}`;
}
