// Parses a request Content-Type header such as
//   multipart/related; type="application/dicom"; boundary=abc
// or application/dicom; transfer-syntax=1.2.840.10008.1.2.1,
// with quoted or unquoted values, any parameter order and case-insensitive names.

export interface MediaType {
  /** Lower-cased type/subtype. */
  essence: string;
  /** Lower-cased parameter names; values unquoted, case kept. */
  params: Map<string, string>;
}

export function parseMediaType(header: string | undefined | null): MediaType | null {
  if (!header) return null;
  const semi = header.indexOf(";");
  const essence = (semi === -1 ? header : header.slice(0, semi)).trim().toLowerCase();
  if (!/^[\w!#$&^.+-]+\/[\w!#$&^.+-]+$/.test(essence)) return null;
  const params = new Map<string, string>();
  let rest = semi === -1 ? "" : header.slice(semi + 1);
  // name=value pairs separated by ';'; a quoted value may contain ';' and escaped characters.
  const re = /^\s*([^\s=;]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^;]*)\s*(?:;|$)/;
  while (rest.trim() !== "") {
    const m = re.exec(rest);
    if (!m) {
      // A parameter without '=' (or garbage): skip to the next ';'.
      const next = rest.indexOf(";");
      if (next === -1) break;
      rest = rest.slice(next + 1);
      continue;
    }
    const name = m[1].toLowerCase();
    const value = m[3] !== undefined ? m[3].replace(/\\(.)/g, "$1") : m[2].trim();
    if (!params.has(name)) params.set(name, value);
    rest = rest.slice(m[0].length);
  }
  return { essence, params };
}

/** Longest boundary we accept. RFC 2046 allows 70; Orthanc sends 73, so be lenient. */
export const MAX_BOUNDARY_LENGTH = 200;

export type StowRequestType =
  | { ok: true; form: "multipart"; boundary: string; rootType: string }
  /** One instance as the whole body (Content-Type: application/dicom, any parameters). */
  | { ok: true; form: "single-part"; rootType: "application/dicom" }
  | { ok: false; status: 400 | 415; message: string };

const EXPECTED = 'expected multipart/related; type="application/dicom", or application/dicom for a single instance';

/**
 * Checks that a request is multipart/related with a DICOM root type and a usable boundary, or a
 * single application/dicom instance.
 */
export function parseStowContentType(header: string | undefined | null): StowRequestType {
  const mt = parseMediaType(header);
  if (!mt) return { ok: false, status: 415, message: `no usable Content-Type; ${EXPECTED}` };
  if (mt.essence === "application/dicom") return { ok: true, form: "single-part", rootType: "application/dicom" };
  if (mt.essence !== "multipart/related") {
    return { ok: false, status: 415, message: `unsupported media type ${mt.essence}; ${EXPECTED}` };
  }
  const rootType = (mt.params.get("type") ?? "").trim().toLowerCase();
  if (rootType !== "application/dicom") {
    const got = rootType === "" ? "no type parameter" : `type="${rootType}"`;
    return { ok: false, status: 415, message: `multipart/related with ${got} is not supported; this service accepts type="application/dicom"` };
  }
  const boundary = mt.params.get("boundary");
  if (boundary === undefined || boundary === "") {
    return { ok: false, status: 400, message: "multipart/related Content-Type has no boundary parameter" };
  }
  if (boundary.length > MAX_BOUNDARY_LENGTH || /[\r\n]/.test(boundary)) {
    return { ok: false, status: 400, message: `multipart boundary is invalid (at most ${MAX_BOUNDARY_LENGTH} characters, no line breaks)` };
  }
  return { ok: true, form: "multipart", boundary, rootType };
}
