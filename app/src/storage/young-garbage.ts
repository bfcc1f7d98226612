// Dead Buffers give their memory back when the young generation is collected (a scavenge). The
// service allocates few JavaScript objects per byte it moves, so scavenges come rarely, and while
// a large instance streams through, the 64 KiB buffers of its socket reads (each dead once copied
// into a part buffer) pile up as external memory between them: some 30 MiB for a 1 GiB instance,
// which V8 would only count towards a full GC once about 64 MiB had built up. A large upload asks
// for a scavenge after each part it sends instead: about a millisecond per part.
//
// V8 offers the collector only as the `gc` of a context created while --expose-gc is set; the
// flag is set for that moment only. Without it (another engine, a V8 that refuses), nothing happens.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type Gc = (options: { type: "minor" | "major"; execution?: "sync" | "async" }) => void;

const gc: Gc | undefined = (() => {
  try {
    setFlagsFromString("--expose-gc");
    const found = runInNewContext("typeof gc === 'function' ? gc : undefined") as Gc | undefined;
    setFlagsFromString("--no-expose-gc");
    return found;
  } catch {
    return undefined;
  }
})();

/** Collects the young generation now (a scavenge), freeing the memory of Buffers that died young. */
export function collectYoungGarbage(): void {
  gc?.({ type: "minor" });
}
