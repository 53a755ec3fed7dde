/**
 * Reading the flags of the benchmark scripts, one way for all of them: each
 * flag is handed to `on` with readers for the value that follows it.
 */

/** A bad command line: the scripts print its message and exit 3. */
export class UsageError extends Error {}

/**
 * Walks `argv`, calling `on(flag, { value, count })` for each flag; `value()`
 * takes the next argument, `count(min)` takes it as an integer of at least
 * `min`. Both throw {@link UsageError} when the argument is missing or wrong.
 */
export function readFlags(argv, on) {
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`flag \`${flag}\` needs a value`);
      return v;
    };
    const count = (min) => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < min)
        throw new UsageError(`\`${flag}\` must be an integer >= ${min}, got \`${v}\``);
      return n;
    };
    on(flag, { value, count });
  }
}
