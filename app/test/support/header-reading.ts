// Reads a DICOM header from a prefix in one call, as the service does over several: a deflated
// data set (which readDicomHeader hands back to its caller) is inflated here in one go, so the
// header tests can feed any prefix of any syntax. The service inflates as bytes arrive
// (app/src/dicom/deflated-dataset.ts); its tests compare the two.
import { inflateRawSync, constants as zlib } from "node:zlib";
import { MAX_HEADER_BYTES, readDicomHeader, readHeaderWithDcmjs, type HeaderResult, type PrefixRead } from "../../src/dicom/header.js";

export function readHeaderOf(prefix: Buffer, complete: boolean, reader: typeof readDicomHeader = readDicomHeader): HeaderResult {
  const read = reader(prefix, complete);
  if (read.kind !== "deflated") return read;
  return settled(reader(prefix, complete, inflatedView(prefix.subarray(read.datasetOffset), complete)));
}

/** The same through the general reader alone (no fast path). */
export function readHeaderWithDcmjsOf(prefix: Buffer, complete: boolean): HeaderResult {
  return readHeaderOf(prefix, complete, readHeaderWithDcmjs);
}

function inflatedView(deflated: Buffer, complete: boolean) {
  let bytes: Buffer;
  let error: string | undefined;
  try {
    // A whole part must hold the whole deflate stream; a prefix, what has arrived of it.
    bytes = inflateRawSync(deflated, { finishFlush: complete ? zlib.Z_FINISH : zlib.Z_SYNC_FLUSH });
  } catch (e) {
    error = (e as Error).message;
    try {
      bytes = inflateRawSync(deflated, { finishFlush: zlib.Z_SYNC_FLUSH });
    } catch {
      bytes = Buffer.alloc(0);
    }
  }
  const overBudget = bytes.length > MAX_HEADER_BYTES;
  return { bytes: overBudget ? bytes.subarray(0, MAX_HEADER_BYTES) : bytes, complete: !overBudget && (complete || error !== undefined), overBudget, error };
}

function settled(read: PrefixRead): HeaderResult {
  if (read.kind === "deflated") throw new Error("asked to inflate again");
  return read;
}
