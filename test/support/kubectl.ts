// One rule for every test and bench caller of kubectl: a non-zero exit is an
// error carrying kubectl's own words.
import type { KubectlResult } from '../../src/localcluster/index.js';

/** kubectl's stdout, or an error with its stderr and stdout when it exited non-zero. */
export function stdoutOrThrow(args: readonly string[], result: KubectlResult): string {
  if (result.code !== 0) {
    throw new Error(
      `kubectl ${args.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}
