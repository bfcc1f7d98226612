// Synthetic instances for the benchmarks: unique UIDs, grouped into one study per request, with
// the key they must land at and the sha256 of their bytes, so that storage can be checked.
import { createHash, randomBytes } from "node:crypto";
import { buildInstance, newUid } from "../../app/test/support/dicom.js";
import { expectedKey } from "../../app/test/support/key-layout.js";

export interface SentInstance {
  sopInstanceUid: string;
  key: string;
  bytes: Buffer;
  sha256: string;
}

/** Boundary of every benchmark request. */
export const BOUNDARY = "stowrs-bench-3f0c9a71d2e84b6b";

/** Room left for the File Meta Information and the attributes before Pixel Data. */
const HEADER_ALLOWANCE = 512;

/** Pixel bytes shared by every instance of a set (the UIDs make each instance unique). */
export function pixelData(instanceBytes: number): Buffer {
  const n = Math.max(2, instanceBytes - HEADER_ALLOWANCE);
  return randomBytes(n - (n % 2));
}

export function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** `requests` studies of `perRequest` instances each (one series per study). */
export function buildRequests(requests: number, perRequest: number, pixels: Buffer, prefix = ""): SentInstance[][] {
  const out: SentInstance[][] = [];
  for (let r = 0; r < requests; r++) {
    const studyUid = newUid();
    const seriesUid = newUid();
    const batch: SentInstance[] = [];
    for (let i = 0; i < perRequest; i++) {
      const sopInstanceUid = newUid();
      const bytes = buildInstance({ studyUid, seriesUid, sopInstanceUid, pixels });
      batch.push({ sopInstanceUid, key: expectedKey({ studyUid, seriesUid, sopInstanceUid }, prefix), bytes, sha256: sha256(bytes) });
    }
    out.push(batch);
  }
  return out;
}
