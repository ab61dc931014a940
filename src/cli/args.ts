import { existsSync, statSync } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { isExportDir, osError } from '../index.js';
import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';

export { UsageError };

type Options = Record<string, { type: 'string' | 'boolean' }>;

/** What {@link parse} returns: each option's value (a string, or a boolean for flags) and the positionals. */
export interface Parsed<T extends Options> {
  values: { [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string } & { help?: boolean };
  positionals: string[];
}

/** node's parseArgs, with its own errors (unknown option, missing value) turned into UsageErrors. */
export function parse<T extends Options>(args: string[], options: T, usage: string, allowPositionals = false): Parsed<T> {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true }) as Parsed<T>;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${usage}`);
  }
}

/** A required string option. */
export function required(value: string | undefined, flag: string): string {
  if (value == null || value === '') throw new UsageError(`--${flag} is required`);
  return value;
}

/** A number option; `integer` and `min` (inclusive) / `below` (exclusive) bounds name the option when broken. */
export function numberOption(
  value: string | undefined,
  flag: string,
  fallback: number,
  check: { integer?: boolean; min?: number; above?: number; below?: number } = {},
): number {
  if (value == null) return fallback;
  const n = Number(value);
  const bad = (expected: string) => new UsageError(`--${flag} must be ${expected}, got '${value}'`);
  if (value.trim() === '' || !Number.isFinite(n)) throw bad('a number');
  if (check.integer && !Number.isInteger(n)) throw bad('a whole number');
  if (check.min != null && n < check.min) throw bad(`≥ ${check.min}`);
  if (check.above != null && n <= check.above) throw bad(`> ${check.above}`);
  if (check.below != null && n >= check.below) throw bad(`< ${check.below}`);
  return n;
}

/** `true`/`false` (also yes/no, 1/0) for options that read better with a value, as `--pretrained false`. */
export function booleanOption(value: string | undefined, flag: string, fallback: boolean): boolean {
  if (value == null) return fallback;
  const v = value.toLowerCase();
  if (['true', 'yes', '1'].includes(v)) return true;
  if (['false', 'no', '0'].includes(v)) return false;
  throw new UsageError(`--${flag} must be true or false, got '${value}'`);
}

/** One of a fixed set of values. */
export function choice<T extends string>(value: string | undefined, flag: string, choices: readonly T[], fallback: T): T {
  if (value == null) return fallback;
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`--${flag} must be one of ${choices.join(', ')}, got '${value}'`);
  return value as T;
}

/** A file that must exist (checked up front, so the message names the option). */
export function existingFile(value: string | undefined, flag: string): string {
  const file = required(value, flag);
  if (!existsSync(file)) throw new UsageError(`--${flag} ${file}: no such file`);
  if (!statSync(file).isFile()) throw new UsageError(`--${flag} ${file}: not a file`);
  return file;
}

/** A directory that must exist. */
export function existingDir(value: string | undefined, flag: string): string {
  const dir = required(value, flag);
  if (!existsSync(dir)) throw new UsageError(`--${flag} ${dir}: no such directory`);
  if (!statSync(dir).isDirectory()) throw new UsageError(`--${flag} ${dir}: not a directory`);
  return dir;
}

/**
 * A folder the command may write into, checked up front: created if missing; a file
 * in its place is a usage error. With `exportDir`, it must also be new, empty or a
 * fastvision export (an export never replaces anything else).
 */
export async function writableOutDir(dir: string, opts: { exportDir?: boolean } = {}): Promise<void> {
  const st = await stat(dir).catch(() => undefined);
  if (st && !st.isDirectory()) throw new UsageError(`--out ${dir}: it is a file, not a folder`);
  if (!st) {
    await mkdir(dir, { recursive: true }).catch((err) => {
      throw osError(err, 'create the output folder', dir);
    });
    return;
  }
  if (opts.exportDir && (await readdir(dir)).length && !(await isExportDir(dir))) {
    throw new UsageError(`--out: '${dir}' exists, is not empty and is not a fastvision export; fastvision would not replace it: choose another --out`);
  }
}

/** A column given on the command line: a whole number is an index (as fastai's `fn_col=0`), anything else a name. */
export function columnOption(value: string | undefined, fallback: number): string | number {
  if (value == null) return fallback;
  return /^\d+$/.test(value) ? Number(value) : value;
}
