/**
 * Rebuilds a metal-vs-rap dataset from MusicBrainz (tags) and the Cover Art Archive
 * (covers): `npx tsx examples/metal-vs-rap/fetch.ts --contact you@example.com`.
 * Writes `<out>/albums.csv` (the study's columns) and `<out>/images/<mbid>.jpg`.
 * A rerun resumes: search results are kept in `candidates.json`, good images are kept.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { version } from 'fastvision';
import { fetchCover, type CoverResult } from './coverArt.js';
import { genreColumns, genreRow } from './genres.js';
import { artistCreditPhrase, dateRanges, genreQueries, MusicBrainz, type ReleaseGroupHit } from './musicbrainz.js';

export interface FetchOptions {
  out: string;
  /** An email or URL MusicBrainz can reach you at (required by its usage rules). */
  contact: string | undefined;
  mbUrl?: string;
  caaUrl?: string;
  /** Candidates per genre. Default 1,500 (a first run takes well under an hour). */
  perGenre?: number;
  thumb?: 250 | 500;
  /** Covers downloaded at once. Default 4. */
  concurrency?: number;
  /** Between MusicBrainz request starts. Default 1000 ms. */
  intervalMs?: number;
  ranges?: string[];
  log?: (line: string) => void;
}

export interface FetchSummary {
  candidates: number;
  rows: number;
  counts: Record<CoverResult, number>;
  /** metal × rap: [neither, rap only, metal only, both]. */
  crosstab: { neither: number; rapOnly: number; metalOnly: number; both: number };
}

export function userAgent(contact: string | undefined): string {
  if (!contact || !contact.trim()) {
    throw new Error('fetch: a contact is required (--contact you@example.com or MB_CONTACT): MusicBrainz asks every client to say who it is');
  }
  return `fastvision-example/${version} ( ${contact.trim()} )`;
}

export async function fetchDataset(o: FetchOptions): Promise<FetchSummary> {
  const log = o.log ?? ((l: string) => console.log(l));
  const ua = userAgent(o.contact);
  await mkdir(join(o.out, 'images'), { recursive: true });
  const hits = await candidates(o, ua, log);
  const rows = hits.map((hit) => ({ hit, genres: genreRow(hit.tags ?? []) })).filter((r) => r.genres.sum_genres >= 1);
  log(`${rows.length} of ${hits.length} release groups map to a genre; fetching covers`);
  const counts: Record<CoverResult, number> = { downloaded: 0, cached: 0, 'no-art': 0, 'bad-image': 0 };
  const kept: typeof rows = [];
  let done = 0;
  await mapLimit(rows, o.concurrency ?? 4, async (r) => {
    const result = await fetchCover(o.caaUrl ?? 'https://coverartarchive.org', r.hit.id, join(o.out, 'images', `${r.hit.id}.jpg`), o.thumb ?? 250, ua);
    counts[result]++;
    if (result === 'downloaded' || result === 'cached') kept.push(r);
    const line = `covers: ${done + 1}/${rows.length} (${counts.downloaded} new, ${counts.cached} kept, ${counts['no-art']} without art, ${counts['bad-image']} bad)`;
    if (++done === rows.length || (!process.stderr.isTTY && done % 50 === 0)) log(line);
    else if (process.stderr.isTTY) process.stderr.write(`\r${bar(done / rows.length)} ${line}`);
  });
  kept.sort((a, b) => a.hit.id.localeCompare(b.hit.id));
  const header = ['artist-credit-phrase', 'title', 'id', ...genreColumns, 'sum_genres', 'image_name'];
  const lines = kept.map(({ hit, genres }) =>
    [artistCreditPhrase(hit), hit.title, hit.id, ...genreColumns.map((c) => genres[c]), genres.sum_genres, `images/${hit.id}.jpg`].map(csvField).join(','),
  );
  const tmp = join(o.out, `albums.csv.${process.pid}.tmp`);
  await writeFile(tmp, `${[header.join(','), ...lines].join('\n')}\n`);
  await rename(tmp, join(o.out, 'albums.csv'));
  const crosstab = { neither: 0, rapOnly: 0, metalOnly: 0, both: 0 };
  for (const { genres } of kept) {
    if (genres.metal && genres.rap) crosstab.both++;
    else if (genres.metal) crosstab.metalOnly++;
    else if (genres.rap) crosstab.rapOnly++;
    else crosstab.neither++;
  }
  log(`\n            rap=0   rap=1\nmetal=0  ${String(crosstab.neither).padStart(6)}  ${String(crosstab.rapOnly).padStart(6)}\nmetal=1  ${String(crosstab.metalOnly).padStart(6)}  ${String(crosstab.both).padStart(6)}`);
  return { candidates: hits.length, rows: kept.length, counts, crosstab };
}

/** Search hits for both genres, from `candidates.json` when a previous run saved them. */
async function candidates(o: FetchOptions, ua: string, log: (l: string) => void): Promise<ReleaseGroupHit[]> {
  const file = join(o.out, 'candidates.json');
  try {
    const saved = JSON.parse(await readFile(file, 'utf8')) as ReleaseGroupHit[];
    log(`${saved.length} candidates from ${file} (no MusicBrainz requests)`);
    return saved;
  } catch {
    // not there yet: search
  }
  const mb = new MusicBrainz({ baseUrl: o.mbUrl ?? 'https://musicbrainz.org/ws/2', userAgent: ua, intervalMs: o.intervalMs ?? 1000, log });
  const seen = new Set<string>();
  const hits: ReleaseGroupHit[] = [];
  for (const [genre, query] of Object.entries(genreQueries)) {
    const cap = o.perGenre ?? 1500;
    let n = 0;
    for (const range of o.ranges ?? dateRanges) {
      if (n >= cap) break;
      const found = await mb.searchReleaseGroups(`${query} AND firstreleasedate:${range}`, cap - n, seen);
      n += found.length;
      hits.push(...found);
      log(`MusicBrainz: ${genre} ${range}: ${found.length} (${n}/${cap}) ${process.stderr.isTTY ? bar(n / cap) : ''}`.trimEnd());
    }
  }
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(hits));
  await rename(tmp, file);
  return hits;
}

/** A 30-character text progress bar for terminals. */
function bar(fraction: number): string {
  const full = Math.round(30 * fraction);
  return `[${'#'.repeat(full)}${'.'.repeat(30 - full)}]`;
}

function csvField(v: unknown): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

async function mapLimit<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/').split('/').pop()!);
if (isMain) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: 'data' },
      contact: { type: 'string' },
      'mb-url': { type: 'string' },
      'caa-url': { type: 'string' },
      'per-genre': { type: 'string' },
      thumb: { type: 'string', default: '250' },
    },
  });
  fetchDataset({
    out: values.out!,
    contact: values.contact ?? process.env.MB_CONTACT,
    ...(values['mb-url'] ?? process.env.MB_URL ? { mbUrl: (values['mb-url'] ?? process.env.MB_URL)! } : {}),
    ...(values['caa-url'] ?? process.env.CAA_URL ? { caaUrl: (values['caa-url'] ?? process.env.CAA_URL)! } : {}),
    ...(values['per-genre'] ? { perGenre: Number(values['per-genre']) } : {}),
    thumb: values.thumb === '500' ? 500 : 250,
  }).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
