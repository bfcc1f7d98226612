// Dead Buffers give their memory back when the young generation is collected (a scavenge). The
// service allocates few JavaScript objects per byte it moves, so scavenges come rarely, and while
// a large instance streams through, the 64 KiB buffers of its socket reads (each dead once copied
// into a part buffer) pile up as external memory between them: some 30 MiB for a 1 GiB instance,
// which V8 would only count towards a full GC once about 64 MiB had built up. A large upload asks
// for a scavenge after each part it sends instead: about a millisecond per part.
//
// V8 offers its collector to JavaScript only when node starts with --expose-gc, which the image's
// CMD and `npm start` pass. Started without it (`node app/dist/main.js`), nothing happens here and
// a 1 GiB instance peaks some 40 MiB higher (bench/README.md). Turning the flag on at run time
// (v8.setFlagsFromString) would also work, but Node documents flag changes after start-up as
// undefined behaviour, which has no place in a service that stores medical images.

type Gc = (options?: { type?: "minor" | "major"; execution?: "sync" | "async" }) => void;

const gc = (globalThis as { gc?: Gc }).gc;

/** Whether the process was started with --expose-gc, so that collectYoungGarbage does something. */
export const youngGarbageCollectable = typeof gc === "function";

/** Collects the young generation now (a scavenge), freeing the memory of Buffers that died young. */
export function collectYoungGarbage(): void {
  gc?.({ type: "minor" });
}
