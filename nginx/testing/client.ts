// HTTPS requests with full control over the TLS side (client certificate,
// protocol versions) for talking to the front.
import { request as httpsRequest, type Agent, type RequestOptions } from "node:https";
import { request as httpRequest } from "node:http";
import type { Readable } from "node:stream";
import type { SecureVersion } from "node:tls";

export interface TlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  ciphers?: string;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string | number>;
  body?: Buffer | string | Readable;
  tls?: TlsOptions;
  /** A keep-alive agent to reuse one client connection; by default each request has its own. */
  agent?: Agent;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function send(url: string, { method = "GET", headers = {}, body, tls = {}, agent }: SendOptions = {}): Promise<Reply> {
  const target = new URL(url);
  const options: RequestOptions = {
    method,
    headers,
    ...(agent ? { agent } : { agent: false, ...tls }),
  };
  const request = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(target, options, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body === undefined) req.end();
    else if (typeof body === "string" || Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}
