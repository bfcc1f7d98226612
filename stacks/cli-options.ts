// Options with a value (`--client-cert file`) on the command lines of `npm run rehearse` and
// `npm run smoke`, which take them out and leave the stack name.

/** Removes `name` and the argument after it from `args`; returns that argument, or undefined when `name` is absent. */
export function takeOption(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const [, value] = args.splice(i, 2);
  return value;
}
