// Test harness: a real OpenID provider (panva's oidc-provider, certified) on 127.0.0.1, issuing
// JWT access tokens by the client-credentials grant with a resource indicator (RFC 8707).
// One node:http server owns the port for the whole test; the Provider behind it can be rebuilt
// with another JWKS (key rotation, same issuer URL) and the server can be taken down in several
// ways, for the service's 503 path.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";
import Provider, { errors } from "oidc-provider";

export type SigningAlgorithm = "RS256" | "PS256" | "ES256";

export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: CryptoKey;
  /** Public half as a JWK (kid, alg, use set). */
  publicJwk: JWK;
  /** Private JWK, as oidc-provider's `jwks` option takes it. */
  privateJwk: JWK;
}

export async function makeSigningKey(alg: SigningAlgorithm = "RS256", kid = `${alg.toLowerCase()}-${Math.random().toString(36).slice(2, 10)}`): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === "ES256" ? {} : { modulusLength: 2048 }) });
  const meta = { kid, alg, use: "sig" };
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), ...meta }, privateJwk: { ...(await exportJWK(privateKey)), ...meta } };
}

/** Clients of the test issuer: a sender that may write, and one the resource server grants reading only. */
export const WRITER = { id: "modality-1", secret: "modality-1-secret-not-a-real-one-0123456789" };
export const READER = { id: "viewer-1", secret: "viewer-1-secret-not-a-real-one-0123456789" };
/** A second resource server: tokens for it carry its audience, not the service's. */
export const OTHER_RESOURCE = "https://other-service.test/api";

export type IssuerMode = "up" | "refuse" | "hang" | "http500";

export interface TestIssuer {
  /** http://127.0.0.1:PORT (no trailing slash): OIDC_ISSUER for the service. */
  issuer: string;
  audience: string;
  /** The resource indicator tokens for the service are requested with. */
  resource: string;
  /** Paths requested so far, oldest first (the service's discovery and JWKS fetches). */
  requests: string[];
  /** Publish another JWKS (and sign with another key) without changing the issuer URL or port. */
  rotate(next: { keys: SigningKey[]; signKid?: string }): void;
  setMode(mode: IssuerMode): Promise<void>;
  /**
   * Answer GET `path` with `body` (as application/json) instead of the provider's answer, with a
   * Content-Length or, `chunked`, without one; undefined gives the path back to the provider.
   */
  serve(path: string, body: string | undefined, opts?: { chunked?: boolean }): void;
  /** A client-credentials access token (the JWT). */
  token(opts?: { client?: { id: string; secret: string }; scope?: string; resource?: string }): Promise<string>;
  close(): Promise<void>;
}

export interface TestIssuerOptions {
  audience: string;
  keys: SigningKey[];
  /** Pin the signing key (rotation: publish new and old, sign with the new). */
  signKid?: string;
  /** The scope a writer gets; default dicomweb.write. */
  writeScope?: string;
  /** Access-token lifetime in seconds. */
  ttl?: number;
}

export async function startIssuer(opts: TestIssuerOptions): Promise<TestIssuer> {
  const writeScope = opts.writeScope ?? "dicomweb.write";
  const ttl = opts.ttl ?? 300;
  // oidc-provider takes absolute URIs as resource indicators; the audience tokens carry is separate.
  const resource = isAbsoluteUri(opts.audience) ? opts.audience : "urn:stowrs-to-s3:stow-rs";
  let mode: IssuerMode = "up";
  let handler: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const served = new Map<string, { body: string; chunked: boolean }>();
  const server = createServer((req, res) => {
    requests.push(req.url ?? "");
    if (mode === "hang") return; // never answers: the service's fetch must time out
    if (mode === "http500") {
      res.writeHead(500, { "content-type": "text/plain" }).end("down for maintenance");
      return;
    }
    const own = served.get((req.url ?? "").split("?")[0]!);
    if (own) {
      const bytes = Buffer.from(own.body);
      res.writeHead(200, { "content-type": "application/json", ...(own.chunked ? {} : { "content-length": String(bytes.length) }) });
      // In pieces, so that a chunked answer really streams.
      for (let at = 0; at < bytes.length; at += 16 * 1024) res.write(bytes.subarray(at, at + 16 * 1024));
      res.end();
      return;
    }
    handler(req, res);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as { port: number }).port;
  const issuer = `http://127.0.0.1:${port}`;
  const client = (c: { id: string; secret: string }) => ({
    client_id: c.id,
    client_secret: c.secret,
    grant_types: ["client_credentials"],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: "client_secret_basic" as const,
  });

  let current = { keys: opts.keys, signKid: opts.signKid };
  const build = () => {
    const signing = current.keys.find((k) => k.kid === current.signKid) ?? current.keys[0];
    const provider = new Provider(issuer, {
      clients: [client(WRITER), client(READER)],
      jwks: { keys: current.keys.map((k) => k.privateJwk) as never },
      // Client metadata is checked against the keystore: the ID token algorithm needs a key.
      clientDefaults: { id_token_signed_response_alg: signing.alg },
      cookies: { keys: ["test-only-cookie-key-not-a-secret"] },
      ttl: { ClientCredentials: ttl },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => resource,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, indicator, c) => {
            const jwt = { sign: { alg: signing.alg, kid: signing.kid } };
            if (indicator === resource) {
              // A scope the resource server does not list is dropped silently: the reader asking
              // for the write scope gets a valid token without it.
              const scope = c.clientId === WRITER.id ? `${writeScope} dicomweb.read` : "dicomweb.read";
              return { scope, audience: opts.audience, accessTokenTTL: ttl, accessTokenFormat: "jwt", jwt };
            }
            if (indicator === OTHER_RESOURCE) return { scope: writeScope, audience: OTHER_RESOURCE, accessTokenTTL: ttl, accessTokenFormat: "jwt", jwt };
            throw new errors.InvalidTarget();
          },
        },
      },
    });
    handler = provider.callback() as typeof handler;
  };
  build();

  const closeServer = async () => {
    if (!server.listening) return;
    const closed = new Promise((r) => server.close(r));
    for (const s of sockets) s.destroy();
    await closed;
  };

  return {
    issuer,
    audience: opts.audience,
    resource,
    requests,
    rotate(next) {
      current = { keys: next.keys, signKid: next.signKid };
      build();
    },
    async setMode(next) {
      if (next === "refuse") {
        mode = "up";
        await closeServer();
        return;
      }
      if (!server.listening) await listen(port);
      if (next === "up") for (const s of sockets) s.destroy(); // drops requests left hanging
      mode = next;
    },
    serve(path, body, { chunked = false } = {}) {
      if (body === undefined) served.delete(path);
      else served.set(path, { body, chunked });
    },
    async token({ client: who = WRITER, scope = writeScope, resource: target = resource } = {}) {
      const res = await fetch(`${issuer}/token`, {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${who.id}:${who.secret}`).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({ grant_type: "client_credentials", scope, resource: target }),
      });
      const json = (await res.json()) as { access_token?: string };
      if (res.status !== 200 || !json.access_token) throw new Error(`token endpoint answered ${res.status}: ${JSON.stringify(json)}`);
      return json.access_token;
    },
    async close() {
      mode = "up";
      await closeServer();
    },
  };
}

function isAbsoluteUri(text: string): boolean {
  try {
    return new URL(text).hash === "";
  } catch {
    return false;
  }
}
