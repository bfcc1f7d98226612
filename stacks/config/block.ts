// The shape of a config block: the keys it reads, its defaults, how it turns raw values
// into typed ones, and which of its values only stand in for real ones. index.ts lists the
// blocks in reading order; the known keys, the defaults and StackConfig are assembled from
// that list, so a new block is a new file and one line there.
import type { Placeholder } from "../placeholders";
import type { Reader } from "./reader";

export interface ConfigBlock<Needs extends object, Out extends object, Defaults extends object = {}> {
  /** The stowrs-to-s3 keys this block reads; any other key in the namespace is reported as unknown. */
  readonly keys: readonly string[];
  /** The values used when the stack file leaves a key out (part of the exported DEFAULTS). */
  readonly defaults?: Defaults;
  /**
   * Reads the block's keys through `r`, reporting every problem there and never throwing
   * (return a fallback instead). `earlier` holds what the blocks listed before this one produced.
   */
  read(r: Reader, earlier: Needs): Out;
  /** Values that stand in for real ones (plan and preview warn, `pulumi up` refuses); only asked when nothing was reported. */
  placeholders?(own: Out): Placeholder[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyBlock = ConfigBlock<any, any, any>;

/** Declares a block; the types of `earlier`, the result and the defaults are inferred from it. */
export function defineBlock<Needs extends object = {}, Out extends object = {}, Defaults extends object = {}>(
  block: ConfigBlock<Needs, Out, Defaults>,
): ConfigBlock<Needs, Out, Defaults> {
  return block;
}

type OutOf<B> = B extends ConfigBlock<infer _N, infer O, infer _D> ? O : never;
type DefaultsOf<B> = B extends ConfigBlock<infer _N, infer _O, infer D> ? D : never;

/** What a list of blocks produces together. */
export type BlockOutputs<Bs> = Bs extends readonly [infer H, ...infer T] ? OutOf<H> & BlockOutputs<T> : unknown;

/** The defaults of a list of blocks together. */
export type BlockDefaults<Bs> = Bs extends readonly [infer H, ...infer T] ? DefaultsOf<H> & BlockDefaults<T> : unknown;

/**
 * never when every block's `earlier` is produced by the blocks before it; otherwise names the
 * values a block needs that nothing before it gives (index.ts checks this at compile time).
 */
export type OrderProblem<Bs, Before = {}> = Bs extends readonly [infer H, ...infer T]
  ? H extends ConfigBlock<infer N, infer O, infer _D>
    ? [Before] extends [N]
      ? OrderProblem<T, Before & O>
      : { blockNeeds: Exclude<keyof N, keyof Before> }
    : never
  : never;
