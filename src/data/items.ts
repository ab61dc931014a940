import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { mapLimit } from './concurrency.js';
import { FastvisionError } from '../core/errors.js';
import { progressBar, type Progress } from '../core/progress.js';

/** One image of a dataset: where it is, and what fastvision knows of the file. */
export interface ImageItem {
  /** Absolute path. */
  file: string;
  /** Where it came from, for messages: "row 5 (line 6 of albums.csv)" or the file itself. */
  origin: string;
  mtimeMs: number;
  bytes: number;
  /** The encoded image itself, for items given as Buffers (a test set); `file` then only names it. */
  buffer?: Buffer;
}

/** An item left out with `onBadImage: 'skip'`, and why. */
export interface SkippedItem {
  file: string;
  origin: string;
  reason: string;
}

/**
 * The absolute path of a file name from a table, as fastai's `ColReader(pref, suff)`:
 * `path/folder/name+suff`. A name that escapes `path` (through `..` or by being
 * absolute) is an error unless `allowOutsidePath`; symlinks are checked after the
 * files are found ({@link checkContained}).
 */
export function resolveItemPath(
  name: string,
  opts: { path: string; folder?: string | undefined; suff?: string | undefined; checkInside: boolean },
  origin: string,
): string {
  const base = resolve(opts.path);
  const file = resolve(base, opts.folder ?? '', `${name}${opts.suff ?? ''}`);
  if (opts.checkInside) {
    const rel = relative(base, file);
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel) || isAbsolute(name)) {
      throw new FastvisionError('UNSAFE_PATH',
        `fastvision: file name '${name}' (${origin}) points outside path '${opts.path}'; ` +
          'use names relative to path, or pass allowOutsidePath: true',
      );
    }
  }
  return file;
}

const listLimit = 20;

// A check of a few files is over before a bar could help; on a network drive it may not be.
const checkDelayMs = 1000;

/** `fn` over every item, 64 at a time, with progress shown once the whole takes over a second. */
async function checkAll<T, R>(label: string, items: readonly T[], show: boolean, fn: (item: T) => Promise<R>): Promise<R[]> {
  const bar: Progress = progressBar(label, items.length, { show, delay: checkDelayMs });
  let done = 0;
  try {
    return await mapLimit(items, 64, async (item) => {
      const r = await fn(item);
      bar.update(++done);
      return r;
    });
  } finally {
    bar.stop();
  }
}

/**
 * Checks up front, before any training, that every file exists: one error lists the
 * first 20 missing paths and how many there are. With `skipMissing` the missing ones
 * are returned as skipped instead. `progress: false` hides the progress a long check shows.
 */
export async function statItems(
  files: readonly { file: string; origin: string }[],
  skipMissing: boolean,
  progress = true,
): Promise<{ items: (ImageItem | undefined)[]; skipped: SkippedItem[] }> {
  const stats = await checkAll('checking files', files, progress, async ({ file }) => {
    try {
      const s = await stat(file);
      return s.isFile() ? s : 'not a file';
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (err as Error).message;
    }
  });
  const skipped: SkippedItem[] = [];
  const items = files.map(({ file, origin }, i): ImageItem | undefined => {
    const s = stats[i]!;
    if (typeof s !== 'string') return { file, origin, mtimeMs: s.mtimeMs, bytes: s.size };
    skipped.push({ file, origin, reason: s === 'missing' ? 'file not found' : s });
    return undefined;
  });
  if (skipped.length && !skipMissing) {
    const shown = skipped.slice(0, listLimit).map((s) => `  ${s.file} (${s.origin}): ${s.reason}`);
    const more = skipped.length > listLimit ? `\n  … and ${skipped.length - listLimit} more` : '';
    throw new FastvisionError('BAD_DATA',
      `fastvision: ${skipped.length} of ${files.length} image files cannot be read:\n${shown.join('\n')}${more}\n` +
        "(pass onBadImage: 'skip' to leave them out)",
    );
  }
  return { items, skipped };
}

/**
 * Checks that every item, with symlinks resolved, lies inside the data folder `base`
 * (also with symlinks resolved): a link `images/x.jpg → /etc/…` or a row `../../secret.png`
 * is refused, all offenders in one error. `allowOutsidePath: true` turns this off.
 */
export async function checkContained(items: readonly (ImageItem | undefined)[], base: string, shownBase: string, progress = true): Promise<void> {
  let root: string;
  try {
    root = await realpath(base);
  } catch (err) {
    throw new FastvisionError('BAD_DATA', `the data folder '${shownBase}' cannot be read: ${(err as Error).message}`, { cause: err });
  }
  const outside: string[] = [];
  await checkAll('checking paths', items.filter((i): i is ImageItem => i != null), progress, async (item) => {
    const real = await realpath(item.file).catch(() => item.file);
    if (!isInside(root, real)) outside.push(`  ${item.file} (${item.origin})${real !== item.file ? ` → ${real}` : ''}`);
  });
  if (outside.length) {
    throw new FastvisionError(
      'UNSAFE_PATH',
      `${outside.length} image file(s) lie outside the data folder '${shownBase}' once symlinks are resolved:\n${outside.slice(0, listLimit).join('\n')}${outside.length > listLimit ? `\n  … and ${outside.length - listLimit} more` : ''}\n` +
        '(keep images inside the data folder, point path at a folder that holds them, or pass allowOutsidePath: true if you mean it)',
    );
  }
}

/** Whether `file` is `root` or below it (both already resolved). */
export function isInside(root: string, file: string): boolean {
  const rel = relative(root, file);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}
