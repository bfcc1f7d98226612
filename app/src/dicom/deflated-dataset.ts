// The data set of a Deflated Explicit VR Little Endian instance (PS3.5 A.5), inflated as its
// compressed bytes arrive and only as far as the header reader needs. Deflate turns 1 KiB into
// up to 1 MiB, so inflating is capped: at most `budget` bytes come out (MAX_HEADER_BYTES, the
// same budget the other syntaxes have), and at most `budget` compressed bytes go in (a stream of
// empty blocks inflates to nothing). One inflater per part keeps its state from one header read
// attempt to the next, so no byte is inflated twice.
import { createInflateRaw, type InflateRaw } from "node:zlib";
import { MAX_HEADER_BYTES } from "./dicom-header.js";

/** What the header reader is given of a deflated data set. */
export interface InflatedDataset {
  /** The inflated bytes so far (at most the budget). */
  bytes: Buffer;
  /** Nothing more will come out: the deflate stream (or the part) ended, or it is corrupt. */
  complete: boolean;
  /** Inflating stopped at the budget while the data set went on. */
  overBudget: boolean;
  /**
   * Why the deflate stream could not be inflated to its end (corrupt, or cut off by the end of the
   * part). What came out of earlier writes stays; zlib drops the output of the write that fails.
   */
  error?: string;
}

/** Inflated bytes handed on at a time; also the most the inflater produces past the budget before it stops. */
const CHUNK_BYTES = 64 * 1024;

export class DeflatedDataset {
  private readonly inflater: InflateRaw;
  private readonly closed: Promise<void>;
  private readonly chunks: Buffer[] = [];
  private joined: Buffer | undefined;
  private compressed = 0;
  /** Inflated bytes kept. */
  inflated = 0;
  private state: "open" | "ended" | "corrupt" | "over-budget" = "open";
  private error: string | undefined;

  constructor(private readonly budget = MAX_HEADER_BYTES) {
    this.inflater = createInflateRaw({ chunkSize: CHUNK_BYTES });
    this.closed = new Promise((resolve) => this.inflater.once("close", () => resolve()));
    this.inflater.on("data", (out: Buffer) => this.take(out));
    // A corrupt stream (or one cut short, at end()) ends the data set where it breaks; the bytes before stay.
    this.inflater.on("error", (err) => {
      this.error ??= err.message;
      this.settle("corrupt");
    });
    this.inflater.on("end", () => this.settle("ended"));
  }

  /** Whether more compressed bytes could still change the inflated data set. */
  get open(): boolean {
    return this.state === "open";
  }

  /** Inflates the next compressed bytes of the data set; resolves when their output is in (or inflating has stopped). */
  async write(chunk: Buffer): Promise<void> {
    if (this.state !== "open" || chunk.length === 0) return;
    const room = this.budget - this.compressed;
    const input = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.compressed += input.length;
    if (input.length > 0) await this.untilClosedOr((done) => this.inflater.write(input, () => done()));
    if (this.state === "open" && this.compressed >= this.budget) this.stop("over-budget");
  }

  /** The part has ended: whatever is still inside the inflater comes out. */
  async end(): Promise<void> {
    if (this.state !== "open") return;
    await this.untilClosedOr((done) => {
      this.inflater.once("end", done);
      this.inflater.end();
    });
    this.settle("ended");
  }

  view(): InflatedDataset {
    if (!this.joined || this.joined.length !== this.inflated) this.joined = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.inflated);
    this.chunks.splice(0, this.chunks.length, this.joined);
    const view: InflatedDataset = { bytes: this.joined, complete: this.state === "ended" || this.state === "corrupt", overBudget: this.state === "over-budget" };
    if (this.state === "corrupt") view.error = this.error;
    return view;
  }

  /** Stops inflating (keeping what came out); nothing more is read. */
  close(): void {
    if (!this.inflater.destroyed) this.inflater.destroy();
  }

  private take(out: Buffer): void {
    if (this.state !== "open") return;
    const room = this.budget - this.inflated;
    if (out.length > room) {
      if (room > 0) this.keep(out.subarray(0, room));
      this.stop("over-budget");
      return;
    }
    this.keep(out);
  }

  private keep(out: Buffer): void {
    this.chunks.push(out);
    this.inflated += out.length;
  }

  private stop(state: "over-budget"): void {
    this.settle(state);
    this.close();
  }

  private settle(state: "ended" | "corrupt" | "over-budget"): void {
    if (this.state === "open") this.state = state;
  }

  /** Resolves when `start`'s callback fires, or when the inflater is destroyed first (its callbacks may then never come). */
  private untilClosedOr(start: (done: () => void) => void): Promise<void> {
    return new Promise<void>((resolve) => {
      this.closed.then(resolve);
      start(resolve);
    });
  }
}
