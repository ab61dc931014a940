import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchDataset, userAgent } from '../../examples/metal-vs-rap/fetch.js';
import { tempDir } from '../helpers/images.js';

// A fake MusicBrainz + Cover Art Archive on 127.0.0.1, with the real JSON shapes.
const id = (genre: string, i: number) => `${genre === 'metal' ? 'aaaaaaaa' : 'bbbbbbbb'}-0000-4000-8000-${String(i).padStart(12, '0')}`;
const hit = (genre: string, i: number) => ({
  id: id(genre, i),
  score: 100,
  title: `${genre} album ${i}, vol. "${i}"`,
  'primary-type': 'Album',
  'artist-credit': [{ name: `Band ${i}`, joinphrase: ' & ', artist: { id: 'x', name: `Band ${i}` } }, { name: 'Friends', artist: { id: 'y', name: 'Friends' } }],
  tags: genre === 'metal' ? [{ name: 'death metal', count: 2 }, ...(i === 3 ? [{ name: 'rapcore', count: 1 }] : [])] : [{ name: 'hip-hop', count: 1 }],
});
let server: Server;
let url = '';
const mbArrivals: number[] = [];
const coverRequests = new Map<string, number>();
let jpeg: Buffer;
let sent503 = false;
let coverDelayMs = 0;

beforeAll(async () => {
  jpeg = await sharp({ create: { width: 250, height: 250, channels: 3, background: '#884422' } }).jpeg().toBuffer();
  server = createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    if (u.pathname === '/ws/2/release-group') {
      mbArrivals.push(Date.now());
      if (!sent503) {
        sent503 = true;
        return void res.writeHead(503, { 'Retry-After': '1', 'Content-Type': 'application/json' }).end('{"error":"Your requests are exceeding the allowable rate limit"}');
      }
      expect(req.headers['user-agent']).toMatch(/^fastvision-example\/\S+ \( test@example\.com \)$/);
      const genre = u.searchParams.get('query')!.includes('metal') ? 'metal' : 'rap';
      const offset = Number(u.searchParams.get('offset'));
      expect(u.searchParams.get('limit')).toBe('100');
      // 6 hits over two pages of 100 (the fake pages by 4); the second page repeats one MBID.
      const all = [0, 1, 2, 3, 4, 5].map((i) => hit(genre, i));
      const page = offset === 0 ? all.slice(0, 4) : offset === 100 ? [all[3]!, ...all.slice(4)] : [];
      return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ created: 'now', count: 150, offset, 'release-groups': page }));
    }
    const m = /^\/release-group\/([\w-]+)\/front-250$/.exec(u.pathname);
    if (m) {
      const mbid = m[1]!;
      coverRequests.set(mbid, (coverRequests.get(mbid) ?? 0) + 1);
      if (mbid.endsWith('000000000001')) return void res.writeHead(404).end();
      return void res.writeHead(307, { Location: `/download/${mbid}_thumb250.jpg` }).end();
    }
    const d = /^\/download\/([\w-]+)_thumb250\.jpg$/.exec(u.pathname);
    if (d) {
      setTimeout(() => {
        if (d[1]!.endsWith('000000000002')) {
          res.writeHead(200, { 'Content-Length': String(jpeg.length) });
          res.write(jpeg.subarray(0, jpeg.length >> 1));
          return void setTimeout(() => res.destroy(), 10);
        }
        res.writeHead(200, { 'Content-Type': 'image/jpeg' }).end(jpeg);
      }, coverDelayMs);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('the example fetcher', () => {
  it('refuses to run without a contact', () => {
    expect(() => userAgent(undefined)).toThrow(/contact is required \(--contact .* or MB_CONTACT\)/);
  });

  it('searches, pages, de-duplicates, retries a 503, keeps ≥ 1 s between requests, and writes the study’s CSV', async () => {
    const out = tempDir('fastvision-fetch-');
    const lines: string[] = [];
    const summary = await fetchDataset({ out, contact: 'test@example.com', mbUrl: `${url}/ws/2`, caaUrl: url, ranges: ['[* TO *]'], log: (l) => lines.push(l) });
    // 1 refused + 2 pages × 2 genres.
    expect(mbArrivals).toHaveLength(5);
    for (let i = 1; i < mbArrivals.length; i++) expect(mbArrivals[i]! - mbArrivals[i - 1]!).toBeGreaterThanOrEqual(950);
    expect(lines.some((l) => l.includes('503'))).toBe(true);
    expect(summary.candidates).toBe(12); // 6 per genre, the repeated MBID once
    // Covers: ...001 has no art (404), ...002 arrives truncated; both genres have those ids.
    expect(summary.counts).toEqual({ downloaded: 8, cached: 0, 'no-art': 2, 'bad-image': 2 });
    const csv = readFileSync(join(out, 'albums.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('artist-credit-phrase,title,id,classical,country,electronic,experimental,folk,jazz,metal,pop_music,rap,rock,sum_genres,image_name');
    expect(csv).toHaveLength(1 + 8);
    const row3 = csv.find((l) => l.includes(id('metal', 3)))!;
    expect(row3.startsWith('Band 3 & Friends,"metal album 3, vol. ""3""",')).toBe(true);
    expect(row3).toContain(',0,0,0,0,0,0,1,0,1,0,2,images/'); // rapcore: metal and rap
    expect(summary.crosstab).toEqual({ neither: 0, rapOnly: 4, metalOnly: 3, both: 1 });
    expect(readdirSync(join(out, 'images')).sort()).toHaveLength(8);
  }, 60_000);

  it('resumes after being killed mid-way: kept covers are not fetched again, and the CSV is consistent', async () => {
    const out = tempDir('fastvision-fetch-resume-');
    coverDelayMs = 400;
    coverRequests.clear();
    const script = join(import.meta.dirname, '..', '..', 'examples', 'metal-vs-rap', 'fetch.ts');
    const child = spawn('npx', ['tsx', script, '--out', out, '--contact', 'test@example.com', '--mb-url', `${url}/ws/2`, '--caa-url', url], {
      cwd: join(import.meta.dirname, '..', '..'),
      stdio: 'ignore',
    });
    // Kill it once a few covers have landed.
    const imagesDir = join(out, 'images');
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (!existsSync(imagesDir) || readdirSync(imagesDir).filter((f) => f.endsWith('.jpg')).length < 2)) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const before = readdirSync(imagesDir).filter((f) => f.endsWith('.jpg'));
    expect(before.length).toBeGreaterThanOrEqual(2);
    expect(existsSync(join(out, 'albums.csv'))).toBe(false);
    const requestsBefore = new Map(coverRequests);
    coverDelayMs = 0;
    const summary = await fetchDataset({ out, contact: 'test@example.com', mbUrl: `${url}/ws/2`, caaUrl: url, log: () => {} });
    expect(summary.counts.cached).toBe(before.length);
    for (const f of before) expect(coverRequests.get(f.replace('.jpg', ''))).toBe(requestsBefore.get(f.replace('.jpg', '')));
    const csv = readFileSync(join(out, 'albums.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(1 + 8);
    for (const line of csv.slice(1)) expect(existsSync(join(out, line.split(',').at(-1)!))).toBe(true);
  }, 120_000);
});
