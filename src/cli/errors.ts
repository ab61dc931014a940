import { FastvisionError } from '../core/errors.js';

/**
 * A mistake in how the command was called (a missing file, a bad option value): the
 * CLI prints its message and exits with 1.
 */
export class UsageError extends FastvisionError {
  constructor(message: string) {
    super('BAD_OPTION', message);
    this.name = 'UsageError';
  }
}

/**
 * Exit code 1 is for problems the user can fix — every {@link FastvisionError} (the
 * CLI's own checks are {@link UsageError}s): one line, no stack. Anything else is a
 * bug: code 2, with the stack.
 */
export function exitCodeOf(err: unknown): 1 | 2 {
  return err instanceof FastvisionError ? 1 : 2;
}
