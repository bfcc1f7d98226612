// The rendered configuration under real nginx, in front of a recording
// stand-in for the app: mutual TLS, what reaches the app, streaming, limits,
// TLS versions, HTTP/2 and the health port.
import { createServer as createTlsServer } from "node:tls";
import { connect as connectHttp2 } from "node:http2";
import { Agent } from "node:https";
import { readFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certBucket, frontFiles } from "./testing/bucket.js";
import { send, type TlsOptions } from "./testing/client.js";
import type { FrontHandle } from "./testing/front.js";
import { freePort } from "./testing/net.js";
import type { Pki } from "./testing/pki.js";
import { probeTls } from "./testing/tls-probe.js";
import { startRecordingBench, type RecordingBench } from "./testing/recording-bench.js";
import type { RecordingUpstream } from "./testing/upstream.js";
import { until } from "./testing/wait.js";

let bench: RecordingBench;
let pki: Pki;
let upstream: RecordingUpstream;
beforeAll(async () => {
  bench = await startRecordingBench();
  ({ pki, upstream } = bench);
});
afterAll(async () => {
  await bench?.stop();
});

const front = (env: Record<string, string>) => bench.front(env);

let bucketCount = 0;
const bucketWith = (files: Record<string, string>) => certBucket(bench.s3, `proxy-certs-${++bucketCount}`, files);

const requestsTo = (path: string) => upstream.requests.filter((r) => r.url === path);

describe("clientauth with certificates from S3", () => {
  let mtls: FrontHandle;
  let trusted: TlsOptions;

  beforeAll(async () => {
    mtls = await front({
      AUTH_MODE: "clientauth",
      ...(await bucketWith(frontFiles(pki))),
    });
    trusted = { ca: pki.ca.certPem, cert: pki.client.certPem, key: pki.client.keyPem };
  });

  it("answers 400 without a client certificate and forwards nothing", async () => {
    const reply = await send(`${mtls.url}/studies/no-cert`, { method: "POST", body: "x", tls: { ca: pki.ca.certPem } });
    expect(reply.status).toBe(400);
    expect(reply.body).toContain("A client certificate is required");
    expect(requestsTo("/studies/no-cert")).toHaveLength(0);
  });

  it("refuses a certificate from another CA and forwards nothing", async () => {
    const outcome = await send(`${mtls.url}/studies/stranger`, {
      method: "POST",
      body: "x",
      tls: { ca: pki.ca.certPem, cert: pki.strangerClient.certPem, key: pki.strangerClient.keyPem },
    }).catch((error: Error) => ({ status: 0, body: error.message }));
    expect(outcome.status).toBe(400);
    expect(outcome.body).toContain("The client certificate was not accepted (FAILED:");
    expect(requestsTo("/studies/stranger")).toHaveLength(0);
  });

  it("forwards path and query unchanged, with the verified DN and forwarding headers the client cannot forge", async () => {
    const path = "/studies/1.2.826.0.1.3680043.8.498.1?x=a%20b&flag&y=%2Fz";
    const reply = await send(`${mtls.url}${path}`, {
      method: "POST",
      headers: {
        "content-type": "multipart/related; type=\"application/dicom\"; boundary=b",
        "x-client-dn": "CN=forged",
        "x-forwarded-for": "203.0.113.9",
        "x-forwarded-proto": "http",
      },
      body: "payload",
      tls: trusted,
    });
    expect(reply.status).toBe(200);
    const seen = requestsTo(path);
    expect(seen).toHaveLength(1);
    expect(seen[0].method).toBe("POST");
    expect(seen[0].httpVersion).toBe("1.1");
    expect(seen[0].headers["x-client-dn"]).toBe(pki.client.dn);
    expect(seen[0].headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(seen[0].headers["x-forwarded-proto"]).toBe("https");
    expect(seen[0].headers["content-type"]).toBe("multipart/related; type=\"application/dicom\"; boundary=b");
    expect(seen[0].bytes).toBe(7);
    // nginx writes the access-log line just after the response has gone out.
    const logLine = () => mtls.accessLog().find((l) => l.uri === "/studies/1.2.826.0.1.3680043.8.498.1");
    await until(() => logLine() !== undefined, "the access-log line");
    expect(logLine()).toMatchObject({ status: 200, clientDn: pki.client.dn });
  });

  it("keeps upstream connections alive across requests", async () => {
    // One client connection is served by one nginx worker, which has one pool.
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ...trusted });
    const before = upstream.requests.length;
    try {
      for (let i = 0; i < 6; i += 1) {
        const reply = await send(`${mtls.url}/keepalive/${i}`, { agent });
        expect(reply.status).toBe(200);
      }
    } finally {
      agent.destroy();
    }
    const seen = upstream.requests.slice(before);
    expect(seen).toHaveLength(6);
    expect(new Set(seen.map((r) => r.connection)).size).toBe(1);
  });

  for (const framing of ["content-length", "chunked"] as const) {
    it(`streams a ${framing} body to the app while it is still arriving`, async () => {
      const head = randomBytes(4 << 20);
      const tail = randomBytes(28 << 20);
      const body = new PassThrough();
      const path = `/studies/stream-${framing}`;
      const headers: Record<string, string | number> = { "content-type": "application/octet-stream" };
      if (framing === "content-length") headers["content-length"] = head.length + tail.length;
      const pending = send(`${mtls.url}${path}`, { method: "POST", headers, body, tls: trusted });
      body.write(head);
      // A buffering proxy would hold everything until the client finished.
      await until(() => upstream.bytesInFlight() >= 1 << 20, "the app to receive the first bytes");
      body.end(tail);
      const reply = await pending;
      expect(reply.status).toBe(200);
      const seen = requestsTo(path);
      expect(seen).toHaveLength(1);
      expect(seen[0].bytes).toBe(head.length + tail.length);
      expect(seen[0].sha256).toBe(createHash("sha256").update(head).update(tail).digest("hex"));
    });
  }

  it("speaks HTTP/2 to clients and HTTP/1.1 to the app", async () => {
    const session = connectHttp2(mtls.url, { ...trusted, servername: "localhost" });
    try {
      const path = "/studies/h2?q=1";
      const stream = session.request({ ":method": "POST", ":path": path, "x-client-dn": "CN=forged" });
      stream.end(Buffer.alloc(70_000, 7));
      const status = await new Promise<number>((resolve, reject) => {
        stream.once("response", (h) => resolve(Number(h[":status"])));
        stream.once("error", reject);
      });
      stream.resume();
      await new Promise((r) => stream.once("end", r));
      expect(status).toBe(200);
      const seen = requestsTo(path);
      expect(seen).toHaveLength(1);
      expect(seen[0].httpVersion).toBe("1.1");
      expect(seen[0].bytes).toBe(70_000);
      expect(seen[0].headers["x-client-dn"]).toBe(pki.client.dn);
      const logLine = () => mtls.accessLog().find((l) => l.uri === "/studies/h2");
      await until(() => logLine() !== undefined, "the access-log line");
      expect(logLine()).toMatchObject({ protocol: "HTTP/2.0", tls: "TLSv1.3" });
    } finally {
      session.close();
    }
  });

  it("accepts TLS 1.2 and 1.3 only", async () => {
    const client = { cert: pki.client.certPem, key: pki.client.keyPem };
    expect(await probeTls(mtls.port, "TLSv1", client)).toMatchObject({ accepted: false });
    expect(await probeTls(mtls.port, "TLSv1.1", client)).toMatchObject({ accepted: false });
    expect(await probeTls(mtls.port, "TLSv1.2", client)).toEqual({ accepted: true, protocol: "TLSv1.2" });
    expect(await probeTls(mtls.port, "TLSv1.3", client)).toEqual({ accepted: true, protocol: "TLSv1.3" });
  });

  it("health port: /health is nginx's own, /ready is the app's", async () => {
    const health = await send(`${mtls.healthUrl}/health`);
    expect(health).toMatchObject({ status: 200, body: "nginx is up\n" });
    upstream.readyStatus = 503;
    expect((await send(`${mtls.healthUrl}/ready`)).status).toBe(503);
    upstream.readyStatus = 200;
    expect(await send(`${mtls.healthUrl}/ready`)).toMatchObject({ status: 200, body: "ready\n" });
    expect((await send(`${mtls.healthUrl}/studies`, { method: "POST", body: "x" })).status).toBe(404);
  });
});

describe("the probe itself", () => {
  it("really offers TLS 1.0 and 1.1 when a server allows them", async () => {
    const server = createTlsServer({
      cert: pki.server.certPem,
      key: pki.server.keyPem,
      minVersion: "TLSv1",
      ciphers: "DEFAULT:@SECLEVEL=0",
    });
    server.on("secureConnection", (socket) => socket.end());
    server.on("tlsClientError", () => {});
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    try {
      expect(await probeTls(port, "TLSv1")).toEqual({ accepted: true, protocol: "TLSv1" });
      expect(await probeTls(port, "TLSv1.1")).toEqual({ accepted: true, protocol: "TLSv1.1" });
    } finally {
      server.close();
    }
  });
});

describe("self-signed fallback (no server certificate in the bucket) with clientauth", () => {
  it("serves its own certificate over TLS 1.2+ only and still requires a client certificate", async () => {
    const f = await front({ AUTH_MODE: "clientauth", ...(await bucketWith({ "truststore.crt": pki.ca.certPem })) });
    expect(f.output()).toContain("serving a self-signed certificate");
    const selfSigned = readFileSync(join(f.outDir, "tls", "certificate.crt"), "utf8");
    expect(await probeTls(f.port, "TLSv1")).toMatchObject({ accepted: false });
    expect(await probeTls(f.port, "TLSv1.1")).toMatchObject({ accepted: false });
    expect(await probeTls(f.port, "TLSv1.2")).toMatchObject({ accepted: true });
    expect((await send(`${f.url}/fallback`, { tls: { ca: selfSigned } })).status).toBe(400);
    const reply = await send(`${f.url}/fallback`, { tls: { ca: selfSigned, cert: pki.client.certPem, key: pki.client.keyPem } });
    expect(reply.status).toBe(200);
    expect(requestsTo("/fallback")[0].headers["x-client-dn"]).toBe(pki.client.dn);
  });
});

describe("anonymous", () => {
  let anon: FrontHandle;
  let selfSigned: string;

  beforeAll(async () => {
    anon = await front({ AUTH_MODE: "anonymous", CERT_MODE: "ACM" });
    selfSigned = readFileSync(join(anon.outDir, "tls", "certificate.crt"), "utf8");
  });


  it("needs no client certificate and drops a client-sent X-Client-DN", async () => {
    const reply = await send(`${anon.url}/studies/anon?z=1`, {
      method: "POST",
      headers: { "x-client-dn": "CN=forged", "X-Client-Dn": "CN=forged-again" },
      body: "abc",
      tls: { ca: selfSigned },
    });
    expect(reply.status).toBe(200);
    const seen = requestsTo("/studies/anon?z=1");
    expect(seen).toHaveLength(1);
    expect(seen[0].headers).not.toHaveProperty("x-client-dn");
    expect(seen[0].headers["x-forwarded-proto"]).toBe("https");
  });

  it("accepts TLS 1.2 and 1.3 only", async () => {
    expect(await probeTls(anon.port, "TLSv1")).toMatchObject({ accepted: false });
    expect(await probeTls(anon.port, "TLSv1.1")).toMatchObject({ accepted: false });
    expect(await probeTls(anon.port, "TLSv1.2")).toEqual({ accepted: true, protocol: "TLSv1.2" });
    expect(await probeTls(anon.port, "TLSv1.3")).toEqual({ accepted: true, protocol: "TLSv1.3" });
  });
});

describe("limits and an absent app", () => {
  it("applies MAX_REQUEST_BYTES to declared and chunked bodies", async () => {
    const f = await front({ AUTH_MODE: "anonymous", CERT_MODE: "ACM", MAX_REQUEST_BYTES: "1024" });
    const tls = { ca: readFileSync(join(f.outDir, "tls", "certificate.crt"), "utf8") };
    expect((await send(`${f.url}/limit/exact`, { method: "POST", body: Buffer.alloc(1024), tls })).status).toBe(200);
    expect((await send(`${f.url}/limit/declared`, { method: "POST", body: Buffer.alloc(1025), tls })).status).toBe(413);
    const chunked = new PassThrough();
    const pending = send(`${f.url}/limit/chunked`, { method: "POST", body: chunked, tls });
    chunked.write(Buffer.alloc(800));
    chunked.end(Buffer.alloc(800));
    expect((await pending).status).toBe(413);
    expect(requestsTo("/limit/declared")).toHaveLength(0);
    expect(requestsTo("/limit/chunked").every((r) => r.bytes <= 1024)).toBe(true);
  });

  it("/ready answers 503 when the app is not reachable, /health stays 200", async () => {
    const f = await front({ AUTH_MODE: "anonymous", CERT_MODE: "ACM", UPSTREAM: `127.0.0.1:${await freePort()}` });
    expect(await send(`${f.healthUrl}/ready`)).toMatchObject({ status: 503, body: "The app behind nginx is not reachable.\n" });
    expect((await send(`${f.healthUrl}/health`)).status).toBe(200);
  });
});
