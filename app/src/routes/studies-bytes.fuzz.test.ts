// Every byte value 0x00-0xFF where a client puts text of its own: in a part's headers, in a
// parameter of the request's media type, in the boundary and in the path, sent over raw sockets
// (Node's HTTP client refuses to send most of them). Never a 500, and every answer a JSON (or
// DICOM JSON) body, with what was stored listed. The one exception is Node's HTTP parser, which
// refuses some bytes in the request line and headers itself, with a bare 400 and no body, before
// the service sees the request: accepted only where it is the parser (that exact answer) and only
// in the request line or headers, never in a part's headers (which Node does not parse).
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildInstance, newInstanceUids } from "../../test/support/dicom.js";
import { startInProcessService } from "../../test/support/in-process.js";
import { rawExchange, type RawOutcome } from "../../test/support/raw-http.js";
import { samplePath } from "../../test/support/samples.js";
import { startS3rver, type S3rverHandle } from "../../test/support/s3rver.js";
import { otherReasons, referencedUids } from "../../test/support/store-response.js";
import type { RunningService } from "../server.js";
import { Reason } from "../stow/reasons.js";

let s3: S3rverHandle;
let svc: RunningService;
let port: number;

beforeAll(async () => {
  s3 = await startS3rver();
  svc = await startInProcessService(s3);
  port = Number(new URL(svc.url).port);
});
afterAll(async () => {
  await svc?.shutdown();
  await s3?.stop();
});

const BYTES = Array.from({ length: 256 }, (_, b) => b);
const hex = (b: number) => `0x${b.toString(16).padStart(2, "0")}`;
const latin1 = (s: string) => Buffer.from(s, "latin1");

/** One instance, the same in every request (stored once, then acknowledged as an identical duplicate). */
const ids = newInstanceUids();
const instance = buildInstance({ ...ids, pixels: 64 });

interface Answer {
  status: number;
  /** Node's HTTP parser refused the request itself: exactly its bare 400, no body. */
  parser: boolean;
  contentType: string;
  json: any;
  warning?: string;
}

/** Node's own answer to a request it cannot parse (http.Server's default clientError handler). */
const PARSER_400 = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";

function answer(out: RawOutcome): Answer {
  const headEnd = out.text.indexOf("\r\n\r\n");
  const head = out.text.slice(0, headEnd);
  const body = out.text.slice(headEnd + 4);
  const header = (name: string) => new RegExp(`\\r\\n${name}: *([^\\r]*)`, "i").exec(head)?.[1];
  let json: any;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status: out.statuses[0] ?? 0, parser: out.text === PARSER_400, contentType: header("content-type") ?? "", json, warning: header("warning") };
}

function request(opts: { path?: string; contentType?: string; body: Buffer }): Buffer {
  const head = [
    `POST ${opts.path ?? "/studies"} HTTP/1.1`,
    "Host: 127.0.0.1",
    `Content-Type: ${opts.contentType ?? 'multipart/related; type="application/dicom"; boundary=fuzz-boundary'}`,
    "Accept: application/dicom+json",
    `Content-Length: ${opts.body.length}`,
    "Connection: close",
  ].join("\r\n");
  return Buffer.concat([latin1(`${head}\r\n\r\n`), opts.body]);
}

/** A multipart body of raw parts: each a header block (lines, as bytes) and data. */
function body(boundary: Buffer, parts: Array<{ headers: Buffer[]; data: Buffer }>): Buffer {
  const out: Buffer[] = [];
  parts.forEach((p, i) => {
    out.push(latin1(i ? "\r\n--" : "--"), boundary, latin1("\r\n"));
    for (const h of p.headers) out.push(h, latin1("\r\n"));
    out.push(latin1("\r\n"), p.data);
  });
  out.push(latin1("\r\n--"), boundary, latin1("--\r\n"));
  return Buffer.concat(out);
}

const dicomPart = (extra: Buffer[] = []) => ({ headers: [latin1("Content-Type: application/dicom"), ...extra], data: instance });
const B = latin1("fuzz-boundary");

/**
 * Sends one request per byte value and checks every answer; returns the byte values Node's parser
 * refused, and prints what was answered (a JSON line, as the reliability tests do).
 */
async function sweep(name: string, make: (b: number) => Buffer, check: (a: Answer, b: number) => void): Promise<number[]> {
  const refused: number[] = [];
  const statuses: Record<string, number> = {};
  for (const b of BYTES) {
    const a = answer(await rawExchange(port, make(b)));
    statuses[a.parser ? "400 (Node's parser)" : String(a.status)] = (statuses[a.parser ? "400 (Node's parser)" : String(a.status)] ?? 0) + 1;
    const where = `byte ${hex(b)}: ${a.status} ${a.contentType}`;
    expect(a.status, where).toBeGreaterThanOrEqual(200);
    expect(a.status, where).toBeLessThan(500);
    if (a.parser) {
      refused.push(b);
      continue;
    }
    expect(a.contentType, where).toMatch(/^application\/(dicom\+)?json/);
    expect(a.json, where).toBeTypeOf("object");
    // A header built from request data holds visible ASCII only.
    if (a.warning !== undefined) expect(a.warning, where).toMatch(/^[\x20-\x7e]*$/);
    check(a, b);
  }
  console.log(JSON.stringify({ test: "studies-bytes-fuzz", where: name, statuses, parserRefused: refused.map(hex).join(" ") }));
  return refused;
}

/** What Node's parser may refuse in the request line or a header: control characters (and, in the request target, space and bytes past ASCII). */
const CONTROL = (b: number) => (b < 0x20 && b !== 0x09) || b === 0x7f;

describe("POST /studies with every byte value where a client writes text (fuzz)", () => {
  it("in a part's Content-Type (the issue: a stored instance answered 500 text/plain for application/x\\x01y)", async () => {
    const ct1 = readFileSync(samplePath("ct-1.dcm"));
    const refused = await sweep(
      "a part's Content-Type",
      (b) =>
        request({
          body: body(B, [
            { headers: [latin1("Content-Type: application/dicom")], data: ct1 },
            { headers: [Buffer.concat([latin1("Content-Type: application/x"), Buffer.from([b]), latin1("y")])], data: instance },
          ]),
        }),
      (a, b) => {
        expect(a.status, hex(b)).toBe(202);
        expect(referencedUids(a.json)).toHaveLength(1);
        expect(otherReasons(a.json), hex(b)).toEqual([Reason.CannotUnderstand]);
        expect(a.warning, hex(b)).toMatch(/is not application\/dicom/);
      },
    );
    expect(refused).toEqual([]);
  });

  it("in a header of a part, name and value", async () => {
    const refused = await sweep(
      "a part header's name and value",
      (b) => request({ body: body(B, [dicomPart([Buffer.concat([latin1("X-F"), Buffer.from([b]), latin1("zz: a"), Buffer.from([b]), latin1("b")])])]) }),
      (a, b) => {
        expect(a.status, hex(b)).toBe(200);
        expect(referencedUids(a.json)).toEqual([ids.sopInstanceUid]);
      },
    );
    expect(refused).toEqual([]);
  });

  it("in a parameter of the request's media type, unquoted and quoted", async () => {
    for (const quote of ["", '"']) {
      const refused = await sweep(
        `a media type parameter${quote ? ", quoted" : ""}`,
        (b) => {
          const contentType = `multipart/related; type="application/dicom"; boundary=fuzz-boundary; x-fuzz=${quote}a${String.fromCharCode(b)}b${quote}`;
          return request({ contentType, body: body(B, [dicomPart()]) });
        },
        (a, b) => {
          expect(a.status, hex(b)).toBe(200);
          expect(referencedUids(a.json)).toEqual([ids.sopInstanceUid]);
        },
      );
      for (const b of refused) expect(CONTROL(b), `Node's parser refused ${hex(b)} in a header value`).toBe(true);
    }
  });

  it("in the type parameter", async () => {
    const refused = await sweep(
      "the type parameter",
      (b) => request({ contentType: `multipart/related; type="application/dicom${String.fromCharCode(b)}"; boundary=fuzz-boundary`, body: body(B, [dicomPart()]) }),
      (a, b) => {
        // Trailing white space is trimmed off a type (JavaScript's trim, so NBSP too); any other byte makes it another type.
        if (b === 0x20 || b === 0x09 || b === 0xa0) expect(a.status, hex(b)).toBe(200);
        else expect(a.status, hex(b)).toBe(415);
      },
    );
    for (const b of refused) expect(CONTROL(b), hex(b)).toBe(true);
  });

  it("in the boundary, unquoted and quoted, the body framed with it", async () => {
    for (const quote of ["", '"']) {
      const refused = await sweep(
        `the boundary${quote ? ", quoted" : ""}`,
        (b) => {
          const boundary = Buffer.concat([latin1("ab"), Buffer.from([b]), latin1("cd")]);
          return request({ contentType: `multipart/related; type="application/dicom"; boundary=${quote}${boundary.toString("latin1")}${quote}`, body: body(boundary, [dicomPart()]) });
        },
        (a, b) => {
          // Stored, or (where the byte ends or changes the parameter: ; " \ white space) a body
          // without the boundary the header names: 400.
          expect([200, 400], hex(b)).toContain(a.status);
          if (a.status === 200) expect(referencedUids(a.json)).toEqual([ids.sopInstanceUid]);
        },
      );
      for (const b of refused) expect(CONTROL(b), hex(b)).toBe(true);
    }
  });

  it("in the path, after /studies and inside a study UID", async () => {
    const answers = new Map<number, number>();
    for (const [name, path] of [
      ["the path after /studies", (b: number) => `/studies${String.fromCharCode(b)}`],
      ["a study UID in the path", (b: number) => `/studies/1.2.${String.fromCharCode(b)}3`],
    ] as const) {
      const refused = await sweep(
        name,
        (b) => request({ path: path(b), body: body(B, [dicomPart()]) }),
        (a, b) => {
          answers.set(a.status, (answers.get(a.status) ?? 0) + 1);
          // Where the byte leaves the path /studies (? starts a query, # a fragment), stored; a
          // path UID that is no UID 400; any other path 404; a study UID path that the instance
          // does not match 409.
          expect([200, 400, 404, 409], hex(b)).toContain(a.status);
        },
      );
      // In the request target Node also refuses white space and bytes past ASCII.
      for (const b of refused) expect(CONTROL(b) || b === 0x09 || b === 0x20 || b >= 0x80, hex(b)).toBe(true);
    }
    expect(answers.get(404)).toBeGreaterThan(0);
  });
});
