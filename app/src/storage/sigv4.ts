// AWS Signature Version 4 (header form) for an S3 request whose payload hash is already known,
// as it is for an instance: its SHA-256 was computed while it streamed in. The signing key is
// derived once per day, region and secret; per request there is one SHA-256 of the canonical
// request and one HMAC, over strings built directly (no header objects cloned, no promises).
import { createHash, createHmac } from "node:crypto";

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignableRequest {
  method: string;
  /** The path as sent: each segment URI-encoded once (S3 does not double-encode). */
  path: string;
  /** The query in canonical form (encoded name=value pairs, sorted, joined by &); none if undefined. */
  query?: string;
  /** Header names lower-case. Every header given is signed. */
  headers: Record<string, string>;
  /** Hex SHA-256 of the body, sent as x-amz-content-sha256. */
  payloadHash: string;
}

const ALGORITHM = "AWS4-HMAC-SHA256";

/** YYYYMMDD'T'HHMMSS'Z' */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

export class S3Signer {
  private key?: { scope: string; secret: string; key: Buffer };

  constructor(
    private readonly region: string,
    private readonly service = "s3",
  ) {}

  /**
   * Adds x-amz-date, x-amz-content-sha256, x-amz-security-token (with temporary credentials) and
   * authorization to the request's headers.
   */
  sign(request: SignableRequest, credentials: Credentials, date: Date): void {
    const headers = request.headers;
    const stamp = amzDate(date);
    headers["x-amz-date"] = stamp;
    headers["x-amz-content-sha256"] = request.payloadHash;
    if (credentials.sessionToken) headers["x-amz-security-token"] = credentials.sessionToken;
    else delete headers["x-amz-security-token"];

    const names = Object.keys(headers).sort();
    let canonicalHeaders = "";
    for (const name of names) canonicalHeaders += `${name}:${headers[name]!.trim().replace(/\s+/g, " ")}\n`;
    const signedHeaders = names.join(";");
    const canonicalRequest = `${request.method}\n${request.path}\n${request.query ?? ""}\n${canonicalHeaders}\n${signedHeaders}\n${request.payloadHash}`;
    const scope = `${stamp.slice(0, 8)}/${this.region}/${this.service}/aws4_request`;
    const stringToSign = `${ALGORITHM}\n${stamp}\n${scope}\n${createHash("sha256").update(canonicalRequest).digest("hex")}`;
    const signature = createHmac("sha256", this.signingKey(scope, credentials.secretAccessKey)).update(stringToSign).digest("hex");
    headers["authorization"] = `${ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  }

  /** kSigning of SigV4: HMAC chain over date, region, service and "aws4_request"; kept while the scope and secret stay. */
  private signingKey(scope: string, secret: string): Buffer {
    if (this.key && this.key.scope === scope && this.key.secret === secret) return this.key.key;
    let key: Buffer = Buffer.from(`AWS4${secret}`, "utf8");
    for (const part of scope.split("/")) key = createHmac("sha256", key).update(part).digest();
    this.key = { scope, secret, key };
    return key;
  }
}

/** A key as a URI path: each segment encoded as the SDK does for S3 (RFC 3986, also !'()*), slashes kept. */
export function encodeKeyPath(key: string): string {
  return key
    .split("/")
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join("/");
}
