/**
 * `fastvision serve`: the browser classifier page for one export, over HTTP on this
 * machine, or written out as a static site for any web host.
 */
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, resolve } from 'node:path';
import { FastvisionError, osError } from '../core/errors.js';
import { pageFiles, type PageFile } from './pageFiles.js';

/** Options of {@link servePage}. */
export interface ServePageOptions {
  /** Port. Default 8080; 0 picks a free one. */
  port?: number;
  /** Interface to listen on. Default `'127.0.0.1'` (this machine only). */
  host?: string;
}

/** A running page server. */
export interface PageServer {
  /** The page's address, e.g. `http://127.0.0.1:8080/`. */
  url: string;
  /** Stops the server. */
  close(): Promise<void>;
}

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
};

/**
 * Serves the browser classifier page (`examples/browser-classifier/`) with the export in
 * `modelDir`: open the URL, drop an image, see each class's probability. Serves exactly
 * the page's files (a fixed table), never anything else from disk.
 *
 * @param modelDir - A folder written by `learn.export`.
 * @param opts - Port and interface.
 * @returns The URL and a `close()`.
 * @throws A `FastvisionError` when the export is invalid or the port is taken.
 *
 * @example
 * ```ts
 * const server = await servePage('models/metal-vs-rap', { port: 8080 });
 * console.log(`open ${server.url}`);
 * ```
 */
export async function servePage(modelDir: string, opts: ServePageOptions = {}): Promise<PageServer> {
  const files = await pageFiles(modelDir);
  const server = createServer((req, res) => {
    const path = urlPath(req.url);
    const entry = path != null && (req.method === 'GET' || req.method === 'HEAD') ? files.get(path) : undefined;
    if (!entry || path == null) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.setHeader('content-type', types[extname(path)] ?? 'application/octet-stream');
    // A re-export changes the model's files: never serve a stale one.
    res.setHeader('cache-control', 'no-store');
    if (req.method === 'HEAD') return void res.end();
    if ('text' in entry) return void res.end(entry.text);
    createReadStream(entry.file)
      .on('error', () => res.destroy())
      .pipe(res);
  });
  const { port = 8080, host = '127.0.0.1' } = opts;
  await listen(server, port, host);
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}/`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

/** The request's path without its leading slash (`index.html` for `/`), or undefined when it is not valid percent-encoding. */
function urlPath(url: string | undefined): string | undefined {
  try {
    return decodeURIComponent(new URL(url ?? '/', 'http://localhost').pathname).replace(/^\/+/, '') || 'index.html';
  } catch {
    return undefined;
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((done, fail) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      fail(err.code === 'EADDRINUSE' ? new FastvisionError('IO', `fastvision serve: port ${port} on ${host} is in use; choose another with --port`) : osError(err, 'listen on', `${host}:${port}`)),
    );
    server.listen(port, host, () => done());
  });
}

/**
 * Writes the page, its scripts and the export into `outDir` as a static site (upload it
 * to any web host). `outDir` must not exist or be empty; it appears whole or not at all.
 *
 * @param modelDir - A folder written by `learn.export`.
 * @param outDir - Where the site goes.
 * @returns `outDir`, resolved.
 *
 * @example
 * ```ts
 * await writePage('models/metal-vs-rap', 'site');   // then: upload site/
 * ```
 */
export async function writePage(modelDir: string, outDir: string): Promise<string> {
  const out = resolve(outDir);
  const existing = await readdir(out).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(osError(err, 'read', out))));
  if (existing.length) throw new FastvisionError('IO', `fastvision serve --out: ${out} is not empty; give a new folder (nothing in it is replaced)`);
  const files = await pageFiles(modelDir);
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    for (const [path, entry] of files) await put(join(tmp, path), entry);
    // POSIX rename replaces an empty folder in one step; a non-empty one makes it fail.
    await rename(tmp, out);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err instanceof FastvisionError ? err : osError(err, 'write', out);
  }
  return out;
}

async function put(file: string, entry: PageFile): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  if ('text' in entry) await writeFile(file, entry.text);
  else await copyFile(entry.file, file);
}
