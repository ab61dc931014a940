/**
 * A mistake in how the command was called (a missing file, a bad option value): the
 * CLI prints its message and exits with 1.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Exit code 1 is for problems the user can fix: the CLI's own checks (UsageError)
 * and the library's errors, whose messages start with "fastvision:" and name the
 * file, row, option or value at fault. Anything else is a bug: code 2, with the stack.
 */
export function exitCodeOf(err: unknown): 1 | 2 {
  if (err instanceof UsageError) return 1;
  return err instanceof Error && err.message.startsWith('fastvision:') ? 1 : 2;
}
