/**
 * What kind of problem a {@link FastvisionError} is: all are things a user can fix.
 *
 * - `BAD_OPTION`: an option, argument or setting has a value fastvision cannot use.
 * - `BAD_DATA`: a table, a label or a dataset's content is wrong (empty, one class, unknown label, not UTF-8).
 * - `BAD_IMAGE`: an image cannot be decoded, or is a kind fastvision does not read.
 * - `BAD_FILE`: a file is not what it should be: an export, a checkpoint, a weights file.
 * - `UNSAFE_PATH`: a path escapes the data folder, or writing there would destroy what fastvision did not create.
 * - `IO`: the operating system refused (permissions, a file where a folder should be, a full disk).
 * - `NETWORK`, `OFFLINE`: a download failed, or was needed while offline.
 * - `BACKEND`: no usable tfjs backend, or one that was forced cannot start.
 * - `TRAINING`: training cannot go on (a non-finite loss, fewer images than a batch).
 */
export type FastvisionErrorCode = 'BAD_OPTION' | 'BAD_DATA' | 'BAD_IMAGE' | 'BAD_FILE' | 'UNSAFE_PATH' | 'IO' | 'NETWORK' | 'OFFLINE' | 'BACKEND' | 'TRAINING';

/**
 * Every error a user can fix: its message starts with `fastvision:` and names the
 * file, row, option or value at fault and what was expected; `code` says what kind of
 * problem it is. Anything else thrown from fastvision is a bug (the CLI exits with 2
 * for those, with 1 for these).
 *
 * @example
 * ```ts
 * try {
 *   await loadLearner('models/cats');
 * } catch (err) {
 *   if (err instanceof FastvisionError && err.code === 'BAD_FILE') console.error(err.message);
 *   else throw err;
 * }
 * ```
 */
export class FastvisionError extends Error {
  /**
   * @param code - The kind of problem.
   * @param message - What is wrong and what to do; `fastvision: ` is prefixed if missing.
   * @param options - `cause`: the error behind it.
   */
  constructor(
    readonly code: FastvisionErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message.startsWith('fastvision:') ? message : `fastvision: ${message}`, options);
    this.name = 'FastvisionError';
  }
}

/** What to do about an OS error, by its code. */
const advice: Record<string, string> = {
  ENOENT: 'it does not exist',
  EACCES: 'permission denied: check the permissions of the folder',
  EPERM: 'the operation is not permitted there',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder, not a file',
  ENOSPC: 'the disk is full',
  EROFS: 'the file system is read-only',
  EEXIST: 'something is already there',
  ENOTEMPTY: 'the folder is not empty',
  EMFILE: 'too many open files: raise the limit (ulimit -n)',
};

/**
 * An OS error on a user's path as a {@link FastvisionError} that names the path, what
 * fastvision was doing, and what to do. Errors that are already fastvision's pass through.
 *
 * @param err - What the file system threw.
 * @param doing - What fastvision was doing, e.g. `create the export folder`.
 * @param path - The path it was doing it to.
 *
 * @example
 * ```ts
 * await mkdir(dir, { recursive: true }).catch((err) => { throw osError(err, 'create the export folder', dir); });
 * ```
 */
export function osError(err: unknown, doing: string, path: string): Error {
  if (err instanceof FastvisionError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  const why = (code && advice[code]) ?? (err as Error)?.message ?? String(err);
  return new FastvisionError('IO', `cannot ${doing} '${path}': ${why}${code ? ` (${code})` : ''}`, { cause: err });
}
