// Expected identifiers come from Debian's pydicom, a reader that shares no code
// with the service, so a mistake in the service's header reader cannot hide
// itself by also producing the expectation.
import { execFileSync } from "node:child_process";

export const SYSTEM_PYTHON = "/usr/bin/python3";

export interface FileUids {
  transferSyntax: string | null;
  sopClass: string | null;
  sopInstance: string | null;
  study: string | null;
  series: string | null;
}

const script = String.raw`
import json, sys, warnings
warnings.simplefilter("ignore")
import pydicom
out = {}
for path in sys.argv[1:]:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    value = lambda v: None if v is None else str(v)
    out[path] = {
        "transferSyntax": value(ds.file_meta.get("TransferSyntaxUID")),
        "sopClass": value(ds.get("SOPClassUID")),
        "sopInstance": value(ds.get("SOPInstanceUID")),
        "study": value(ds.get("StudyInstanceUID")),
        "series": value(ds.get("SeriesInstanceUID")),
    }
print(json.dumps(out))
`;

export function readUidsWithPydicom(paths: string[]): Record<string, FileUids> {
  if (paths.length === 0) return {};
  const stdout = execFileSync(SYSTEM_PYTHON, ["-c", script, ...paths], { encoding: "utf8", maxBuffer: 16 << 20 });
  return JSON.parse(stdout) as Record<string, FileUids>;
}
