// The npm dicomweb-client's storeInstances through the front, over xhr2 (dicomweb-client needs an
// XMLHttpRequest; in Node, xhr2 is one). xhr2 takes an https.Agent per request, which carries the
// CA to trust and, for mutual TLS, the client certificate.
import type { Agent } from "node:https";
import { api } from "dicomweb-client";
import XMLHttpRequest from "xhr2";

(globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest = XMLHttpRequest;

type Xhr = {
  status: number;
  responseText: string;
  getResponseHeader(name: string): string | null;
  nodejsSet(options: { httpsAgent?: Agent }): void;
};

export interface ClientStore {
  /** Whether dicomweb-client's promise resolved (it rejects on any status but 200/202). */
  resolved: boolean;
  status: number;
  contentType: string;
  wwwAuthenticate: string | null;
  text: string;
}

const asArrayBuffer = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/** Stores `instances` with dicomweb-client at `url` (the front), through `agent`, with the client's `headers`. */
export async function storeWithDicomwebClient(opts: { url: string; agent: Agent; instances: Buffer[]; headers?: Record<string, string>; studyInstanceUID?: string }): Promise<ClientStore> {
  const client = new api.DICOMwebClient({ url: opts.url, verbose: false, singlepart: false, headers: opts.headers ?? {} });
  const xhr = new (XMLHttpRequest as unknown as new () => Xhr)();
  xhr.nodejsSet({ httpsAgent: opts.agent });
  const resolved = await client
    .storeInstances({
      datasets: opts.instances.map(asArrayBuffer),
      request: { instance: xhr as never },
      ...(opts.studyInstanceUID ? { studyInstanceUID: opts.studyInstanceUID } : {}),
    })
    .then(
      () => true,
      () => false,
    );
  return {
    resolved,
    status: xhr.status,
    contentType: xhr.getResponseHeader("content-type") ?? "",
    wwwAuthenticate: xhr.getResponseHeader("www-authenticate"),
    text: String(xhr.responseText),
  };
}
