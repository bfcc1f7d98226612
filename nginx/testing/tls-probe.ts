// Opens a bare TLS connection with one protocol version to see whether the
// server accepts it. SECLEVEL=0 lets this OpenSSL offer TLS 1.0/1.1 at all,
// so a refusal comes from the server, not from the client's own policy.
import { connect, type SecureVersion } from "node:tls";

export type Probe = { accepted: true; protocol: string | null } | { accepted: false; error: string };

export function probeTls(port: number, version: SecureVersion, extra: { cert?: string; key?: string } = {}): Promise<Probe> {
  return new Promise((resolve) => {
    const socket = connect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      minVersion: version,
      maxVersion: version,
      ciphers: "DEFAULT:@SECLEVEL=0",
      rejectUnauthorized: false,
      ...extra,
    });
    socket.once("secureConnect", () => {
      const protocol = socket.getProtocol();
      socket.destroy();
      resolve({ accepted: true, protocol });
    });
    socket.once("error", (error) => resolve({ accepted: false, error: error.message }));
  });
}
