import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { env } from './env.js';
import { progressBar } from './progress.js';
import { FastvisionError, osError } from './errors.js';

/** A file fetched once and kept in the cache. */
export interface CachedFile {
  url: string;
  /** Absolute path in the cache. */
  file: string;
  /** Expected size in bytes, when known. */
  bytes?: number;
  /** Expected sha256 (hex), when known. */
  sha256?: string;
  /** Further check of a file's contents (e.g. that it parses); throws if it is corrupt. */
  validate?: (file: string) => Promise<void>;
}

/** Options of {@link cachedFetch} and of everything that downloads weights. */
export interface FetchOptions {
  /** Default `env.offline`. */
  offline?: boolean;
  /** Show a progress bar. Default true. */
  progress?: boolean;
}

/**
 * The path of `spec.file`, downloading it first if it is not cached or is corrupt.
 * Downloads go to a temp file that is checked (size, sha256, `validate`) and then
 * renamed into place, so the cache never holds half a file.
 *
 * @param spec - The URL, the cache path, and what the file must be (size, sha256, a validator).
 * @param opts - `offline` (default `env.offline`) and `progress` (default true).
 * @returns The cached file's path.
 *
 * @example
 * ```ts
 * const file = await cachedFetch({ url: 'https://example.com/w.safetensors', file: '/tmp/cache/w.safetensors', bytes: 1234 });
 * ```
 */
export async function cachedFetch(spec: CachedFile, opts: FetchOptions = {}): Promise<string> {
  const problem = await checkFile(spec);
  if (problem === undefined) return spec.file;
  if (problem !== 'missing') {
    process.stderr.write(`fastvision: cached ${spec.file} is corrupt (${problem}); fetching it again\n`);
    await rm(spec.file, { force: true });
  }
  if (opts.offline ?? env.offline) {
    throw new FastvisionError('OFFLINE',
      `fastvision: offline (FASTVISION_OFFLINE) and ${spec.file} is ${problem === 'missing' ? 'not cached' : 'corrupt'}. ` +
        `Download ${spec.url} and put it at ${spec.file}`,
    );
  }
  await download(spec, opts.progress ?? true);
  return spec.file;
}

/** undefined when the file is there and sound, else what is wrong with it. */
async function checkFile(spec: CachedFile, file = spec.file): Promise<string | undefined> {
  let size: number;
  try {
    const st = await stat(file);
    // Never "repair" what fastvision did not put there: a folder or a device at the cache path is the user's.
    if (!st.isFile()) throw new FastvisionError('UNSAFE_PATH', `the cache path '${file}' is not a regular file; move it away (or set FASTVISION_CACHE) and try again`);
    size = st.size;
  } catch (err) {
    if (err instanceof FastvisionError) throw err;
    return 'missing';
  }
  if (spec.bytes != null && size !== spec.bytes) return `${size} bytes, expected ${spec.bytes}`;
  if (spec.sha256 != null) {
    const actual = await sha256(file);
    if (actual !== spec.sha256.toLowerCase()) return `sha256 ${actual}, expected ${spec.sha256}`;
  }
  try {
    await spec.validate?.(file);
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

async function download(spec: CachedFile, showProgress: boolean): Promise<void> {
  let response: Response;
  try {
    response = await fetch(spec.url);
  } catch (err) {
    throw new FastvisionError('NETWORK', `fastvision: cannot reach ${spec.url}: ${(err as Error).cause ?? (err as Error).message}`, { cause: err });
  }
  if (!response.ok || !response.body) {
    throw new FastvisionError('NETWORK', `fastvision: ${spec.url} answered ${response.status} ${response.statusText}`);
  }
  const total = Number(response.headers.get('content-length') ?? spec.bytes ?? 0);
  await mkdir(dirname(spec.file), { recursive: true }).catch((err) => {
    throw osError(err, 'create the cache folder', dirname(spec.file));
  });
  await removeStaleParts(spec.file);
  const tmp = `${spec.file}.${process.pid}.${Date.now()}.part`;
  const bar = showProgress ? progressBar(`downloading ${spec.url.split('/').slice(-4).join('/')}`, total, { unit: 'bytes' }) : undefined;
  let received = 0;
  try {
    const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
    body.on('data', (chunk: Buffer) => {
      received += chunk.length;
      bar?.update(received);
    });
    await pipeline(body, createWriteStream(tmp));
    bar?.stop();
    if (total && received !== total) throw new Error(`got ${received} of ${total} bytes`);
    const problem = await checkFile(spec, tmp);
    if (problem) throw new Error(problem);
    await rename(tmp, spec.file);
  } catch (err) {
    bar?.stop();
    await rm(tmp, { force: true });
    throw new FastvisionError('NETWORK', `fastvision: downloading ${spec.url} failed: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Deletes `<file>.<pid>.<time>.part` files that killed downloads left behind: those
 * whose process is gone. A download in progress in another live process keeps its own.
 */
async function removeStaleParts(file: string): Promise<void> {
  const name = basename(file);
  const pattern = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d+)\\.\\d+\\.part$`);
  for (const entry of await readdir(dirname(file)).catch(() => [] as string[])) {
    const m = pattern.exec(entry);
    if (m && !processAlive(Number(m[1]))) await rm(join(dirname(file), entry), { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The sha256 of a file, hex. */
export async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}
