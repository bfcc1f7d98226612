// Chooses the Store Instances Response media type from the Accept header.
export type ResponseFormat = { format: "json" | "xml"; contentType: string };

const JSON_DEFAULT: ResponseFormat = { format: "json", contentType: "application/dicom+json" };

/** null means nothing acceptable: answer 406. */
export function negotiateResponse(accept: string | undefined | null): ResponseFormat | null {
  if (!accept || accept.trim() === "") return JSON_DEFAULT;
  const ranges = accept
    .split(",")
    .map((raw, order) => {
      const [type, ...params] = raw.split(";").map((s) => s.trim());
      let q = 1;
      let rootType: string | undefined;
      for (const p of params) {
        const [k, v = ""] = p.split("=").map((s) => s.trim());
        if (k.toLowerCase() === "q") q = Number(v);
        if (k.toLowerCase() === "type") rootType = v.replace(/^"|"$/g, "").toLowerCase();
      }
      return { type: type.toLowerCase(), rootType, q: Number.isFinite(q) ? q : 0, order };
    })
    .filter((r) => r.type !== "" && r.q > 0)
    .sort((a, b) => b.q - a.q || a.order - b.order);
  for (const r of ranges) {
    switch (r.type) {
      case "application/dicom+json":
      case "*/*":
      case "application/*":
        return JSON_DEFAULT;
      case "application/json":
        return { format: "json", contentType: "application/json" };
      case "application/dicom+xml":
        return { format: "xml", contentType: "application/dicom+xml" };
      case "multipart/related":
        // Older clients ask for the XML response wrapped this way.
        if (r.rootType === "application/dicom+xml") return { format: "xml", contentType: "application/dicom+xml" };
        break;
    }
  }
  return null;
}
