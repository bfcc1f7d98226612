// PutObject of a whole instance, the hot path of the service (one per instance up to one part),
// sent without the SDK's per-request middleware stack: measured at about 0.85 ms of CPU per
// request through the SDK against 0.25 ms here (bench/README.md), which for a 64 KiB instance
// is half of everything else the service does with it.
//
// What the SDK contributes is kept by using its own parts, resolved once: the endpoint (its S3
// rules: virtual-hosted or path style, FIPS, dual-stack, custom endpoints), the credential
// provider chain, the retry strategy (standard or adaptive, the same instance and retry quota as
// every other S3 call of the client, with the SDK's error classification), clock skew
// correction on the same offset, and the same keep-alive agents and timeouts. The request is
// signed by the SDK's own SigV4 signer (@smithy/signature-v4), configured as the client
// configures it for S3, over the SHA-256 computed while the instance streamed in, so the body
// is never hashed twice. Endpoints that need another signing scheme (S3 Express, multi-region
// access points) take the SDK path.
import { request as httpRequest, type Agent as HttpAgent, type ClientRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest, type Agent as HttpsAgent } from "node:https";
import { PutObjectCommand, S3ServiceException, type S3Client } from "@aws-sdk/client-s3";
import { getEndpointFromInstructions } from "@smithy/core/endpoints";
import { extendedEncodeURIComponent } from "@smithy/core/protocols";
import { isServerError, isThrottlingError, isTransientError } from "@smithy/core/retry";
import { SignatureV4 } from "@smithy/signature-v4";
import type { RetryErrorInfo, RetryErrorType, RetryStrategyV2, StandardRetryToken } from "@smithy/types";
import type { Histogram } from "prom-client";
import { ChunkedBody } from "./chunked-body.js";

export interface PutObjectInput {
  key: string;
  body: Buffer | ChunkedBody;
  /** Hex SHA-256 of the body. */
  sha256: string;
  /** x-amz-meta-* values (ASCII). */
  metadata: Record<string, string>;
  /** Write only if no object exists at the key (If-None-Match: *). */
  ifNoneMatch: boolean;
  /** Base64 CRC32 of the body, for S3's checksum header; undefined: none. */
  crc32?: string;
}

/** How the S3 client reaches S3: the agents and timeouts its request handler was built with. */
export interface S3Transport {
  httpAgent: HttpAgent;
  httpsAgent: HttpsAgent;
  connectionTimeoutMs: number;
  /** No progress for this long fails the attempt (S3_REQUEST_TIMEOUT_SECONDS). */
  socketTimeoutMs: number;
}

interface Endpoint {
  https: boolean;
  protocol: string;
  hostname: string;
  port?: number;
  /** Host header value. */
  host: string;
  /** Path up to the key, without a trailing slash ("" or "/bucket"). */
  basePath: string;
  signer: SignatureV4;
}

/** Above this gap between a request and its answer the server's clock says nothing about ours (as the SDK). */
const MAX_CLOCK_SAMPLE_MS = 900_000;
/** A clock this far off is corrected and the request retried (as the SDK). */
const CLOCK_SKEW_MS = 240_000;
const USER_AGENT = "stowrs-to-s3";

export class ObjectPutter {
  private endpoint?: Promise<Endpoint | null>;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly transport: S3Transport,
    /** Latency per PutObject (retries included), as for every other S3 call. */
    private readonly latency?: Histogram<"operation" | "outcome">,
  ) {}

  async put(input: PutObjectInput): Promise<void> {
    const endpoint = await (this.endpoint ??= this.resolveEndpoint());
    const strategy = await this.client.config.retryStrategy();
    if (!endpoint || !isRetryStrategyV2(strategy)) return this.putWithSdk(input);
    const end = this.latency?.startTimer({ operation: "PutObject" });
    try {
      await this.withRetries(strategy, () => this.attempt(endpoint, input));
      end?.({ outcome: "ok" });
    } catch (err) {
      end?.({ outcome: "error" });
      throw err;
    }
  }

  /** The SDK's endpoint for this bucket, if plain SigV4 signs for it; null: leave it to the SDK. */
  private async resolveEndpoint(): Promise<Endpoint | null> {
    const resolved = await getEndpointFromInstructions({ Bucket: this.bucket, Key: "k" }, PutObjectCommand as never, this.client.config as never);
    const scheme = (resolved.properties?.authSchemes as Array<{ name?: string; signingName?: string; signingRegion?: string }> | undefined)?.[0];
    const { config } = this.client;
    const signingRegion = scheme?.signingRegion ?? (await config.region());
    const signingName = scheme?.signingName ?? "s3";
    if ((scheme && scheme.name !== "sigv4") || signingName !== "s3" || resolved.url.search !== "") return null;
    const url = resolved.url;
    return {
      https: url.protocol === "https:",
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port ? Number(url.port) : undefined,
      host: url.host,
      basePath: url.pathname.replace(/\/+$/, ""),
      // As the client builds its signer for S3: no second escaping of the path (S3 signs the path
      // as sent), and the payload hash is the x-amz-content-sha256 set on the request.
      signer: new SignatureV4({
        credentials: config.credentials,
        region: signingRegion,
        service: signingName,
        sha256: config.sha256,
        uriEscapePath: false,
        applyChecksum: false,
      }),
    };
  }

  /** The retry loop of the SDK's retry middleware, with the client's own strategy. */
  private async withRetries(strategy: RetryStrategyV2, attempt: () => Promise<void>): Promise<void> {
    let token = (await strategy.acquireInitialRetryToken("")) as StandardRetryToken;
    let attempts = 0;
    for (;;) {
      try {
        await attempt();
        strategy.recordSuccess(token);
        return;
      } catch (err) {
        attempts += 1;
        try {
          token = (await strategy.refreshRetryTokenForRetry(token, retryErrorInfo(err))) as StandardRetryToken;
        } catch {
          const metadata = (err as { $metadata?: Record<string, unknown> }).$metadata;
          if (metadata) metadata.attempts = attempts;
          throw err;
        }
        const delay = token.getRetryDelay();
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private async attempt(endpoint: Endpoint, input: PutObjectInput): Promise<void> {
    const path = `${endpoint.basePath}/${keyPath(input.key)}`;
    const headers: Record<string, string> = {
      host: endpoint.host,
      "content-type": "application/dicom",
      "content-length": String(input.body.byteLength),
      // The payload hash the signer signs (it hashes no body when this header is there).
      "x-amz-content-sha256": input.sha256,
    };
    for (const name in input.metadata) headers[`x-amz-meta-${name}`] = input.metadata[name]!;
    if (input.ifNoneMatch) headers["if-none-match"] = "*";
    if (input.crc32 !== undefined) {
      headers["x-amz-checksum-crc32"] = input.crc32;
      headers["x-amz-sdk-checksum-algorithm"] = "CRC32";
    }
    const offsetBefore = this.client.config.systemClockOffset ?? 0;
    const signed = await endpoint.signer.sign(
      { method: "PUT", protocol: endpoint.protocol, hostname: endpoint.hostname, port: endpoint.port, path, query: {}, headers },
      { signingDate: new Date(Date.now() + offsetBefore) },
    );
    // Not signed, as with the SDK.
    signed.headers["user-agent"] = USER_AGENT;

    const sentAt = Date.now();
    const { transport } = this;
    const req = (endpoint.https ? httpsRequest : httpRequest)({
      agent: endpoint.https ? transport.httpsAgent : transport.httpAgent,
      hostname: endpoint.hostname,
      port: endpoint.port,
      method: "PUT",
      path,
      headers: signed.headers,
    });
    const answer = responseOf(req, transport);
    writeBody(req, input.body);
    let res: IncomingMessage;
    let text: string;
    try {
      ({ res, text } = await answer);
    } catch (err) {
      req.destroy();
      throw err;
    }
    this.sampleServerClock(res, sentAt);
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return;
    const error = s3Error(res, text);
    const offset = this.client.config.systemClockOffset ?? 0;
    if (Math.abs(offset) >= CLOCK_SKEW_MS && offset !== offsetBefore) error.$metadata.clockSkewCorrected = true;
    throw error;
  }

  /** As the SDK's signer does after every answer: the server's clock, for the next signature. */
  private sampleServerClock(res: IncomingMessage, sentAt: number): void {
    const date = res.headers.date;
    if (!date || res.headers.age !== undefined) return;
    const serverTime = Date.parse(date);
    const now = Date.now();
    if (Number.isNaN(serverTime) || now - sentAt > MAX_CLOCK_SAMPLE_MS) return;
    this.client.config.systemClockOffset = serverTime - now;
  }

  /** Endpoints plain SigV4 does not sign for: the SDK's own PutObject. */
  private async putWithSdk(input: PutObjectInput): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: input.key,
        // The SDK never reads a ChunkedBody (see chunked-body.ts): length, SHA-256 (Metadata) and CRC32 are all given.
        Body: input.body as Buffer,
        ContentLength: input.body.byteLength,
        ContentType: "application/dicom",
        Metadata: input.metadata,
        ...(input.ifNoneMatch ? { IfNoneMatch: "*" } : {}),
        ...(input.crc32 !== undefined ? { ChecksumAlgorithm: "CRC32" as const, ChecksumCRC32: input.crc32 } : {}),
      }),
    );
  }
}

/** A key as S3's request path (after the bucket): each segment encoded by the SDK's own rule, the slashes kept. */
function keyPath(key: string): string {
  return key.split("/").map(extendedEncodeURIComponent).join("/");
}

/** Written before the request has its socket (it gets one on the next tick): Node then sends headers and chunks in one writev. */
function writeBody(req: ClientRequest, body: Buffer | ChunkedBody): void {
  if (Buffer.isBuffer(body)) {
    req.end(body);
    return;
  }
  for (const chunk of body.chunks) req.write(chunk);
  req.end();
}

/** The answer and, unless it is a success, its (small) body; rejects on network errors and timeouts, as the SDK's handler does. */
function responseOf(req: ClientRequest, transport: S3Transport): Promise<{ res: IncomingMessage; text: string }> {
  return new Promise((resolve, reject) => {
    // Settled by the first error; a later one (the socket failing after the answer) is of no consequence.
    req.on("error", reject);
    req.once("socket", (socket) => {
      if (!socket.connecting) return;
      const timer = setTimeout(() => {
        req.destroy(timeoutError(`Socket timed out without establishing a connection within ${transport.connectionTimeoutMs} ms`));
      }, transport.connectionTimeoutMs);
      socket.once("connect", () => clearTimeout(timer));
      socket.once("close", () => clearTimeout(timer));
    });
    req.setTimeout(transport.socketTimeoutMs, () => req.destroy(timeoutError(`Connection timed out after ${transport.socketTimeoutMs} ms`)));
    req.once("response", (res) => {
      const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
      const parts: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        // An error document is small; keep no more than that of anything.
        if (ok || size > 64 * 1024) return;
        parts.push(chunk);
        size += chunk.length;
      });
      // An answer cut off in the middle is an error ("aborted", ECONNRESET) here.
      res.on("error", reject);
      // The socket goes back to the pool only once the answer has been read to its end.
      res.once("end", () => resolve({ res, text: ok ? "" : Buffer.concat(parts).toString("utf8") }));
    });
  });
}

function timeoutError(message: string): Error {
  return Object.assign(new Error(message), { name: "TimeoutError" });
}

/** An S3 error answer as the SDK reports it: its Code as the name, HTTP status in $metadata. */
function s3Error(res: IncomingMessage, text: string): S3ServiceException & { $metadata: { clockSkewCorrected?: boolean } } {
  const status = res.statusCode ?? 0;
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? (status === 404 ? "NotFound" : status === 412 ? "PreconditionFailed" : "UnknownError");
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? code;
  const requestId = res.headers["x-amz-request-id"];
  return new S3ServiceException({
    name: code,
    message,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status, requestId: typeof requestId === "string" ? requestId : undefined, extendedRequestId: res.headers["x-amz-id-2"] as string | undefined },
  });
}

function retryErrorInfo(error: unknown): RetryErrorInfo {
  const e = error as Parameters<typeof isThrottlingError>[0];
  const errorType: RetryErrorType = isThrottlingError(e) ? "THROTTLING" : isTransientError(e) ? "TRANSIENT" : isServerError(e) ? "SERVER_ERROR" : "CLIENT_ERROR";
  return { error: error as RetryErrorInfo["error"], errorType };
}

function isRetryStrategyV2(strategy: unknown): strategy is RetryStrategyV2 {
  const s = strategy as Partial<RetryStrategyV2>;
  return typeof s.acquireInitialRetryToken === "function" && typeof s.refreshRetryTokenForRetry === "function" && typeof s.recordSuccess === "function";
}
