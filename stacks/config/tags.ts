// tags: the operator's tags on every resource, beside the deployment tag set from appName.
import { defineBlock } from "./block";

const TAG_TEXT = /^[\p{L}\p{N}\s_.:/=+\-@]*$/u;

export const tagsBlock = defineBlock({
  keys: ["tags"],
  read(r): {
    /** Up to 49 tags (AWS allows 50; one is `deployment`), values as text. @default {} */
    tags: Record<string, string>;
  } {
    const key = "tags";
    const fields = r.object(key, r.raw(key), `{ owner: radiology-it }`);
    if (fields === undefined) return { tags: {} };
    const tags: Record<string, string> = {};
    for (const [name, value] of Object.entries(fields)) {
      if (value === null || typeof value === "object") {
        r.report(key, `value of "${name}" must be text, got ${JSON.stringify(value)}`);
        continue;
      }
      const text = String(value);
      if (name === "deployment") {
        r.report(key, `"deployment" is set from appName and cannot be overridden`);
      } else if (name.toLowerCase().startsWith("aws:")) {
        r.report(key, `"${name}": the aws: prefix is reserved by AWS`);
      } else if (name.length < 1 || name.length > 128 || !TAG_TEXT.test(name)) {
        r.report(key, `"${name}" is not a valid tag key (1-128 letters, digits, spaces and _ . : / = + - @)`);
      } else if (text.length > 256 || !TAG_TEXT.test(text)) {
        r.report(key, `value of "${name}" is not a valid tag value (up to 256 letters, digits, spaces and _ . : / = + - @)`);
      } else tags[name] = text;
    }
    // AWS allows 50 tags per resource; one of them is the deployment tag.
    if (Object.keys(fields).length > 49) r.report(key, `at most 49 tags, got ${Object.keys(fields).length}`);
    return { tags };
  },
});
