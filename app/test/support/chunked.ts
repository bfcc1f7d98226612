// Test harness: a body delivered in pieces cut at the given offsets, as a socket might.
export async function* chunked(data: Buffer, cuts: number[]): AsyncGenerator<Buffer> {
  let last = 0;
  for (const c of [...new Set(cuts.map((c) => Math.min(c, data.length)))].sort((a, b) => a - b)) {
    yield data.subarray(last, c);
    last = c;
  }
  yield data.subarray(last);
}
