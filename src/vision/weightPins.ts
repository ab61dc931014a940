import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomicWrite.js';
import { sha256 } from '../core/download.js';
import { env } from '../core/env.js';
import { FastvisionError } from '../core/errors.js';

/** What was recorded of a weights file the first time fastvision used it. */
interface Pin {
  sha256: string;
  bytes: number;
  /** When it was recorded (ISO time), for people reading the file. */
  recorded: string;
}

/** `<cacheDir>/hub/pins.json`: one pin per hub path (`timm/resnet34.tv_in1k/model.safetensors`). */
const pinsFile = () => join(env.cacheDir, 'hub', 'pins.json');

async function readPins(): Promise<Record<string, Pin>> {
  try {
    return JSON.parse(await readFile(pinsFile(), 'utf8')) as Record<string, Pin>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new FastvisionError('BAD_FILE', `the weight pins '${pinsFile()}' are unreadable (${(err as Error).message}); delete the file to record them again`, { cause: err });
  }
}

/**
 * Trust on first use, for weights whose sha256 could not be written into
 * `pretrainedConfigs` (no network where fastvision is built): the first time a file
 * is used its size and sha256 are recorded in `<cacheDir>/hub/pins.json`, and every
 * later use — of the cached file, or of a fresh download from any mirror — must match.
 * A pinned value in `pretrainedConfigs` (`sha256`, `bytes`) is checked by the download
 * itself and wins. Deleting `pins.json` (or one entry) trusts the next file again.
 *
 * @param key - The file's hub path.
 * @param file - The cached file.
 */
export async function checkPin(key: string, file: string): Promise<void> {
  const [pins, digest, { size }] = await Promise.all([readPins(), sha256(file), stat(file)]);
  const pin = pins[key];
  if (!pin) {
    await writeFileAtomic(pinsFile(), `${JSON.stringify({ ...pins, [key]: { sha256: digest, bytes: size, recorded: new Date().toISOString() } }, null, 2)}\n`);
    return;
  }
  if (pin.sha256 !== digest || pin.bytes !== size) {
    throw new FastvisionError(
      'BAD_FILE',
      `the weights '${file}' are not the ones first used for ${key} (sha256 ${digest.slice(0, 16)}…, ${size} bytes; recorded ${pin.sha256.slice(0, 16)}…, ${pin.bytes} bytes on ${pin.recorded}). ` +
        `If you trust the new file, remove the '${key}' entry from ${pinsFile()}`,
    );
  }
}
