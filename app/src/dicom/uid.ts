// PS3.5 9.1: at most 64 characters, digit components separated by dots,
// no empty component, no leading zero unless the component is exactly "0".
const UID_PATTERN = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

export const MAX_UID_LENGTH = 64;

export function isValidUid(value: string): boolean {
  return value.length <= MAX_UID_LENGTH && UID_PATTERN.test(value);
}

/** Strips the single trailing NUL (or stray spaces) that pads a UI value to even length. */
export function normalizeUid(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const v = value.replace(/[\0 ]+$/, "").replace(/^ +/, "");
  return v === "" ? undefined : v;
}
