// The front before a recording stand-in for the app, with what such tests need beside it: a
// throwaway PKI, the S3 test server for certificate buckets, and every front they start,
// stopped together with the rest.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startS3rver, type S3rverHandle } from "../../app/test/support/s3rver.js";
import { startFront, type FrontHandle } from "./front.js";
import { makePki, type Pki } from "./pki.js";
import { startRecordingUpstream, type RecordingUpstream } from "./upstream.js";

export interface RecordingBench {
  pki: Pki;
  s3: S3rverHandle;
  upstream: RecordingUpstream;
  /** A front whose UPSTREAM is the stand-in, with `env` besides. */
  front(env: Record<string, string>): Promise<FrontHandle>;
  /** Stops the fronts, the stand-in and the S3 test server, and removes the PKI. */
  stop(): Promise<void>;
}

export async function startRecordingBench(): Promise<RecordingBench> {
  const pkiDir = mkdtempSync(join(tmpdir(), "front-pki-"));
  const fronts: FrontHandle[] = [];
  let s3: S3rverHandle | undefined;
  let upstream: RecordingUpstream | undefined;
  const stop = async () => {
    await Promise.all(fronts.map((f) => f.stop()));
    await upstream?.stop();
    await s3?.stop();
    rmSync(pkiDir, { recursive: true, force: true });
  };
  try {
    const pki = makePki(pkiDir);
    s3 = await startS3rver();
    upstream = await startRecordingUpstream();
    const to = upstream;
    const front = async (env: Record<string, string>) => {
      const handle = await startFront({ env: { UPSTREAM: `127.0.0.1:${to.port}`, ...env } });
      fronts.push(handle);
      return handle;
    };
    return { pki, s3, upstream, front, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
