// Text that came with a request (a part's Content-Type in a failure message, a claim in a token
// refusal) and goes back out in a response header. Node refuses to write a header holding a
// control character or anything past U+00FF, and would then answer 500 text/plain after the
// instances were stored; and inside a quoted-string a quote or backslash would end or escape it
// early. So such text is reduced to visible ASCII before it reaches a header.

/** `text` with every character outside 0x20-0x7E as "?", at most `max` characters. */
export function visibleAscii(text: string, max = 200): string {
  return text.slice(0, max).replace(/[^\x20-\x7e]/g, "?");
}

/** The same, for inside a quoted-string (RFC 9110 5.6.4): `"` and `\` become `'`. */
export function quotedStringText(text: string, max = 200): string {
  return visibleAscii(text, max).replace(/["\\]/g, "'");
}
