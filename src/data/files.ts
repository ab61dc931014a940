import { readdir, realpath, stat } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import { join, resolve } from 'node:path';
import { isInside } from './items.js';
import { FastvisionError, osError } from '../core/errors.js';

/**
 * Image file endings `fromFolder` and {@link getImageFiles} pick up.
 *
 * @example
 * ```ts
 * imageExtensions.includes('.webp');   // true: fromFolder picks up .webp files
 * ```
 */
export const imageExtensions = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.bmp', '.avif'];

/** Options of {@link getImageFiles}. */
export interface GetImageFilesOptions {
  /** Only these sub-folders of `path` (fastai's `folders`), e.g. `['train', 'valid']` to leave out `test/`. Default: all of `path`. */
  folders?: readonly string[];
}

/**
 * The image files below `path`, recursively and sorted, as fastai's `get_image_files`,
 * as absolute paths: what `DataBlock` and `DataLoaders.fromNameRe` & co. take as they
 * are, whether `path` is relative or not. Symlinked folders are followed only when they lead to a folder inside the one walked
 * that was not walked yet, so a link cannot pull in images from elsewhere or repeat them.
 *
 * @param path - The folder to walk.
 * @param opts - `folders`: walk only these sub-folders of `path`.
 *
 * @example
 * ```ts
 * const files = await getImageFiles('data/imagenette', { folders: ['train', 'valid'] });
 * // ['/home/me/data/imagenette/train/n01440764/a.jpg', …, '/home/me/data/imagenette/valid/…']
 * ```
 */
export async function getImageFiles(path: string, opts: GetImageFilesOptions = {}): Promise<string[]> {
  const base = resolve(path);
  const folders = opts.folders ? opts.folders.map((f) => join(base, f)) : [base];
  const files: string[] = [];
  for (const folder of folders) {
    // listImages finds nothing in a folder that is not there; asked for by name, that is a typo to report.
    let isDir: boolean;
    try {
      isDir = (await stat(folder)).isDirectory();
    } catch (err) {
      throw osError(err, 'read the image folder', folder);
    }
    if (!isDir) throw new FastvisionError('IO', `fastvision: cannot read the image folder '${folder}': it is a file, not a folder`);
    files.push(...(await listImages(folder)));
  }
  return files.sort();
}

/**
 * Image files below `dir`, recursively, sorted so the order (and so the split) is the
 * same on every machine. Real folders are walked first; a symlinked folder is followed
 * afterwards, and only when it leads to a folder inside `dir` not walked yet: a link
 * out of the tree adds nothing, a link back up (`loop → ../..`) or to a folder already
 * walked cannot repeat images.
 */
export async function listImages(dir: string): Promise<string[]> {
  const rootReal = await realpath(dir).catch(() => resolve(dir));
  const seen = new Set<string>();
  const linked: string[] = [];
  const out: string[] = [];
  const walk = async (folder: string): Promise<void> => {
    const real = await realpath(folder).catch(() => undefined);
    if (!real || seen.has(real) || (real !== rootReal && !isInside(rootReal, real))) return;
    seen.add(real);
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (err) {
      throw osError(err, 'read the image folder', folder);
    }
    for (const e of entries) {
      const path = join(folder, e.name);
      if (e.isDirectory()) await walk(path);
      else if (e.isSymbolicLink() && (await stat(path).then((st) => st.isDirectory(), () => false))) linked.push(path);
      else if (imageExtensions.some((x) => e.name.toLowerCase().endsWith(x))) out.push(path);
    }
  };
  await walk(dir);
  for (let i = 0; i < linked.length; i++) await walk(linked[i]!);
  return out.sort();
}
