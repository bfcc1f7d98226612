import { join } from "node:path";

// Everything nginx reads or writes lives under OUT_DIR, so the rendered
// configuration runs as whichever user owns that directory.
/** @param {string} outDir */
export function layout(outDir) {
  const tls = join(outDir, "tls");
  const tmp = join(outDir, "tmp");
  return {
    outDir,
    conf: join(outDir, "nginx.conf"),
    pid: join(outDir, "nginx.pid"),
    logs: join(outDir, "logs"),
    tls,
    certificate: join(tls, "certificate.crt"),
    key: join(tls, "certificate.key"),
    truststore: join(tls, "truststore.crt"),
    crl: join(tls, "crl.pem"),
    tmp,
    temp: {
      clientBody: join(tmp, "client_body"),
      proxy: join(tmp, "proxy"),
      fastcgi: join(tmp, "fastcgi"),
      uwsgi: join(tmp, "uwsgi"),
      scgi: join(tmp, "scgi"),
    },
  };
}
