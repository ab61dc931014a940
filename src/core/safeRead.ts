import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { FastvisionError, osError } from './errors.js';

/** Limits of {@link readRegularFile}. */
export interface ReadLimits {
  /** Refuse files larger than this. */
  maxBytes: number;
  /** The size the file must have (e.g. from a manifest), checked before reading. */
  bytes?: number;
  /** What the file is, for messages: `export metadata`, `weights`. */
  what: string;
}

/**
 * Reads a file that must be a regular file of bounded size: a FIFO, a device
 * (`/dev/zero`), a directory or an over-sized file is refused from `fstat`, before a
 * byte is read, so a hostile path can neither hang the process nor fill its memory.
 * The file is opened non-blocking (opening a FIFO would otherwise wait for a writer)
 * and read to exactly the size `fstat` reported.
 *
 * @param file - The path.
 * @param limits - The largest size accepted, the exact size expected (if known), and what the file is.
 * @returns The file's bytes.
 * @throws FastvisionError `BAD_FILE` naming the file and what it is instead, or `IO`.
 *
 * @example
 * ```ts
 * const json = await readRegularFile('model/fastvision.json', { maxBytes: 1 << 20, what: 'export metadata' });
 * ```
 */
export async function readRegularFile(file: string, limits: ReadLimits): Promise<Buffer> {
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FastvisionError('BAD_FILE', `${limits.what} '${file}' is missing`, { cause: err });
    if (code === 'EISDIR') throw new FastvisionError('BAD_FILE', `${limits.what} '${file}' is a folder, not a file`, { cause: err });
    throw osError(err, `read ${limits.what}`, file);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      const kind = st.isDirectory() ? 'a folder' : st.isFIFO() ? 'a pipe (FIFO)' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file';
      throw new FastvisionError('BAD_FILE', `${limits.what} '${file}' is ${kind}, not a regular file`);
    }
    if (limits.bytes !== undefined && st.size !== limits.bytes) {
      throw new FastvisionError('BAD_FILE', `${limits.what} '${file}' has ${st.size} bytes; ${limits.bytes} were expected`);
    }
    if (st.size > limits.maxBytes) {
      throw new FastvisionError('BAD_FILE', `${limits.what} '${file}' has ${st.size} bytes, more than the ${limits.maxBytes} fastvision reads for it`);
    }
    const out = Buffer.alloc(st.size);
    let at = 0;
    while (at < st.size) {
      const { bytesRead } = await fh.read(out, at, st.size - at, at);
      if (bytesRead === 0) throw new FastvisionError('BAD_FILE', `${limits.what} '${file}' shrank while it was read`);
      at += bytesRead;
    }
    return out;
  } finally {
    await fh.close();
  }
}
