// The STOW-RS client of `npm run smoke`, an operator's tool: sends instances as one
// multipart/related request over HTTPS, with a client certificate and a bearer token when
// asked, and checks the server's certificate against a pinned one (the stack's own) when one
// is known. The rehearsal sends through it too, because this client and its certificate check
// are part of what it rehearses.
//
// Why the repository holds a second STOW client beside the tests' and benchmarks' one
// (app/test/support/stow-client.ts): operators run this against deployed endpoints, so it
// depends on no test-only code, and its concern is the deployment's TLS (pin, name check,
// client certificate, token); the tests' client exercises the service's HTTP edges (streamed
// and chunked bodies, answers before the body is sent) over plain HTTP. Neither needs the other's.
import { X509Certificate, randomBytes } from "node:crypto";
import { request } from "node:https";
import type { Readable } from "node:stream";
import { checkServerIdentity, type PeerCertificate, type TLSSocket } from "node:tls";
import type { Sample } from "./samples";

export interface ClientTls {
  /** PEM of the client certificate and its key (mutual TLS). */
  cert?: string;
  key?: string;
  /** CA certificates to verify the server with (`--ca`), instead of pinning. */
  ca?: string;
  /** The server certificate the stack deployed; the peer's leaf must be this one. */
  pinnedCertificate?: string;
  /** The name the certificate must cover (SNI and hostname check); defaults to the URL's host. */
  serverName?: string;
  /** Accept any server certificate (the rehearsal, where the stack does not know the certificate). */
  insecure?: boolean;
  /** Not TLS, but the other credential a client may need: an access token sent as `Authorization: Bearer`. */
  bearerToken?: string;
}

export interface StowAnswer {
  status: number;
  body: string;
  /** SOP Instance UIDs in ReferencedSOPSequence (00081199). */
  stored: string[];
  /** SOP Instance UIDs in FailedSOPSequence (00081198), with their reasons. */
  failed: { sop: string; reason: number }[];
  /** Set when the hostname check failed but the pin matched (a name other than the one the certificate was made for). */
  nameWarning?: string;
  /** The answer's WWW-Authenticate header, if any. */
  wwwAuthenticate?: string;
}

export class TlsRefused extends Error {}

export function multipartBody(samples: Sample[]): { body: Buffer; contentType: string } {
  const boundary = `rehearsal-${randomBytes(12).toString("hex")}`;
  const parts: Buffer[] = [];
  for (const s of samples) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), s.bytes, Buffer.from("\r\n"));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

/** POST {base}/studies; resolves with the answer, rejects on TLS or network failures. */
export function storeInstances(baseUrl: string, samples: Sample[], tls: ClientTls, timeoutMs = 60_000): Promise<StowAnswer> {
  const { body, contentType } = multipartBody(samples);
  return sendStudies(baseUrl, { body, contentType, length: body.length }, tls, timeoutMs);
}

/** A multipart/related body made elsewhere; a stream is sent as it comes (the rehearsal's slow upload). */
export interface StudiesBody {
  body: Buffer | Readable;
  contentType: string;
  length: number;
}

/** POST {base}/studies with a body of the caller's; as storeInstances otherwise. `timeoutMs`: longest silence on the socket. */
export function sendStudies(baseUrl: string, { body, contentType, length }: StudiesBody, tls: ClientTls, timeoutMs = 60_000): Promise<StowAnswer> {
  const url = new URL(`${baseUrl.replace(/\/+$/, "")}/studies`);
  const pinned = tls.pinnedCertificate ? new X509Certificate(firstCertificate(tls.pinnedCertificate)) : undefined;
  const serverName = tls.serverName ?? url.hostname;
  let nameWarning: string | undefined;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent: false,
        headers: {
          "Content-Type": contentType,
          "Content-Length": length,
          Accept: "application/dicom+json",
          ...(tls.bearerToken ? { Authorization: `Bearer ${tls.bearerToken}` } : {}),
        },
        cert: tls.cert,
        key: tls.key,
        ca: tls.ca,
        servername: /^\d+\.\d+\.\d+\.\d+$/.test(serverName) ? undefined : serverName,
        // Pinned: the chain is checked by fingerprint below, not against a CA store.
        rejectUnauthorized: pinned === undefined && !tls.insecure,
        checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(serverName, cert),
        timeout: timeoutMs,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (text += d));
        const wwwAuthenticate = typeof res.headers["www-authenticate"] === "string" ? res.headers["www-authenticate"] : undefined;
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text, ...parseAnswer(text), nameWarning, wwwAuthenticate }));
        res.on("error", reject);
      },
    );
    req.on("socket", (socket) => {
      if (!pinned) return;
      socket.once("secureConnect", () => {
        const peer = (socket as TLSSocket).getPeerCertificate();
        if (peer.fingerprint256 !== pinned.fingerprint256) {
          req.destroy(new TlsRefused(`the server presented "${peer.subject?.CN ?? "?"}" (${peer.fingerprint256}), not the stack's certificate (${pinned.fingerprint256})`));
          return;
        }
        const mismatch = checkServerIdentity(serverName, peer);
        if (mismatch) nameWarning = mismatch.message;
      });
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on("error", (err) => reject(err));
    if (Buffer.isBuffer(body)) req.end(body);
    else body.on("error", (err) => req.destroy(err)).pipe(req);
  });
}

function firstCertificate(pem: string): string {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new Error("no PEM certificate to pin");
  return m[0];
}

function parseAnswer(text: string): Pick<StowAnswer, "stored" | "failed"> {
  try {
    const doc = JSON.parse(text);
    const seq = (tag: string): any[] => doc?.[tag]?.Value ?? [];
    return {
      stored: seq("00081199").map((i) => String(i?.["00081155"]?.Value?.[0] ?? "")),
      failed: seq("00081198").map((i) => ({ sop: String(i?.["00081155"]?.Value?.[0] ?? ""), reason: Number(i?.["00081197"]?.Value?.[0] ?? 0) })),
    };
  } catch {
    return { stored: [], failed: [] };
  }
}
