import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { osError } from './errors.js';

/**
 * Writes `data` to `file` through a temp file in the same folder and a rename, so
 * readers never see half a file and a crash leaves the old file whole.
 *
 * @param file - Where the data goes.
 * @param data - What to write.
 * @param tmpPrefix - The temp file's name starts with this (default: the file's name), so a writer can recognise and clean up its own leftovers.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string, tmpPrefix = basename(file)): Promise<void> {
  await mkdir(dirname(file), { recursive: true }).catch((err) => {
    throw osError(err, 'create the folder of', file);
  });
  const tmp = join(dirname(file), `${tmpPrefix}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw osError(err, 'write', file);
  }
}
