// Child-process entry for the embedded S3-compatible store (s3rver).
// It runs in its own process so that the service's memory figures stay its own,
// and so that tests can kill the store to simulate an S3 outage.
import { readFileSync } from "node:fs";
import S3rver from "s3rver";
import { exitWithParent } from "../util/exit-with-parent.js";
import { makePutsAtomic, type FilesystemStore } from "./atomic-put.js";
import { conditionalPut } from "./conditional-put.js";

const dir = process.env.S3RVER_DIR;
const port = Number(process.env.S3RVER_PORT ?? "0");
const bucket = process.env.S3RVER_BUCKET ?? "dicom";
if (!dir) {
  process.stderr.write("S3RVER_DIR is required\n");
  process.exit(2);
}

const server = new S3rver({
  address: "127.0.0.1",
  port,
  directory: dir,
  silent: true,
  configureBuckets: [{ name: bucket, configs: [] }],
  // HTTPS when a benchmark asks for the path of the deployed task (the service talks TLS to S3).
  ...(process.env.S3RVER_TLS_CERT && process.env.S3RVER_TLS_KEY
    ? { cert: readFileSync(process.env.S3RVER_TLS_CERT), key: readFileSync(process.env.S3RVER_TLS_KEY) }
    : {}),
});
// As on S3, an object is seen whole or not at all, and its PUT acknowledged only then, with or
// without conditional writes (see atomic-put.ts).
makePutsAtomic((server as unknown as { store: FilesystemStore }).store);
// S3RVER_CONDITIONAL_WRITES=0 leaves If-None-Match ignored (and aborts unanswered), as s3rver does, for tests of the
// service against stores without conditional writes.
if (process.env.S3RVER_CONDITIONAL_WRITES !== "0") {
  const koa = server as unknown as { middleware: unknown[]; store: Parameters<typeof conditionalPut>[0] };
  // Just before s3rver's router, its last middleware.
  koa.middleware.splice(koa.middleware.length - 1, 0, conditionalPut(koa.store));
}

const address = (await server.run()) as { port: number };
process.stdout.write(JSON.stringify({ event: "s3rver-listening", port: address.port }) + "\n");

exitWithParent((done) => server.close(done));
