// DICOM JSON to the PS3.19 Native DICOM Model, for Accept: application/dicom+xml.
import type { DicomJson } from "./response.js";

const KEYWORDS: Record<string, string> = {
  "00081150": "ReferencedSOPClassUID",
  "00081155": "ReferencedSOPInstanceUID",
  "00081190": "RetrieveURL",
  "00081196": "WarningReason",
  "00081197": "FailureReason",
  "00081198": "FailedSOPSequence",
  "00081199": "ReferencedSOPSequence",
  "0008119A": "OtherFailuresSequence",
};

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

function dataset(json: DicomJson, indent: string): string {
  return Object.keys(json)
    .sort()
    .map((tag) => {
      const { vr, Value = [] } = json[tag];
      const keyword = KEYWORDS[tag] ? ` keyword="${KEYWORDS[tag]}"` : "";
      const open = `${indent}<DicomAttribute tag="${tag}" vr="${vr}"${keyword}>`;
      if (Value.length === 0) return `${indent}<DicomAttribute tag="${tag}" vr="${vr}"${keyword}/>`;
      const inner = Value.map((v, i) =>
        vr === "SQ"
          ? `${indent}  <Item number="${i + 1}">\n${dataset(v as DicomJson, indent + "    ")}\n${indent}  </Item>`
          : `${indent}  <Value number="${i + 1}">${escapeXml(String(v))}</Value>`,
      ).join("\n");
      return `${open}\n${inner}\n${indent}</DicomAttribute>`;
    })
    .join("\n");
}

export function toNativeDicomModel(json: DicomJson): string {
  const body = dataset(json, "  ");
  return `<?xml version="1.0" encoding="UTF-8"?>\n<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDEX">\n${body}${body ? "\n" : ""}</NativeDicomModel>\n`;
}
