/** A strict serial queue: each task starts at least `intervalMs` after the previous one started. */
export class SerialQueue {
  private last = Number.NEGATIVE_INFINITY;
  private tail: Promise<unknown> = Promise.resolve();
  /** Start times of every task, for tests and logs. */
  readonly starts: number[] = [];
  constructor(readonly intervalMs: number) {}

  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(async () => {
      const wait = this.last + this.intervalMs - Date.now();
      if (wait > 0) await sleep(wait);
      this.last = Date.now();
      this.starts.push(this.last);
      return task();
    });
    this.tail = next.catch(() => {});
    return next;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The bits of a MusicBrainz release-group search hit the example uses. */
export interface ReleaseGroupHit {
  id: string;
  title: string;
  'primary-type'?: string;
  'artist-credit'?: { name?: string; joinphrase?: string; artist?: { name?: string } }[];
  tags?: { name: string; count?: number }[];
}

/** "Artist A & Artist B" from an artist credit, as musicbrainzngs's `artist-credit-phrase`. */
export function artistCreditPhrase(hit: ReleaseGroupHit): string {
  return (hit['artist-credit'] ?? []).map((c) => `${c.name ?? c.artist?.name ?? ''}${c.joinphrase ?? ''}`).join('');
}

export interface MusicBrainzOptions {
  baseUrl: string;
  userAgent: string;
  /** Between request starts; MusicBrainz allows ~1 request a second. Default 1000. */
  intervalMs?: number;
  maxAttempts?: number;
  log?: (line: string) => void;
}

/**
 * MusicBrainz WS/2 search on one serial, rate-limited queue: `limit=100`, paging by
 * offset, duplicates across pages dropped, 503s retried after `Retry-After` (or an
 * exponential backoff from 1 s), at most 5 attempts.
 */
export class MusicBrainz {
  readonly queue: SerialQueue;
  constructor(private readonly opts: MusicBrainzOptions) {
    this.queue = new SerialQueue(opts.intervalMs ?? 1000);
  }

  async getJson(path: string): Promise<unknown> {
    const url = `${this.opts.baseUrl.replace(/\/+$/, '')}${path}`;
    const attempts = this.opts.maxAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      const res = await this.queue.run(() => fetch(url, { headers: { 'User-Agent': this.opts.userAgent, Accept: 'application/json' } }));
      if (res.ok) return res.json();
      const body = await res.text();
      if (res.status === 503 && attempt < attempts) {
        const retryAfter = Number(res.headers.get('retry-after'));
        const wait = Math.max(Number.isFinite(retryAfter) ? retryAfter * 1000 : 0, 1000 * 2 ** (attempt - 1));
        this.opts.log?.(`MusicBrainz asked to slow down (503); waiting ${(wait / 1000).toFixed(1)} s`);
        await sleep(wait);
        continue;
      }
      throw new Error(`MusicBrainz ${res.status} for ${url}: ${body.slice(0, 200)}`);
    }
  }

  /** Every release group matching a Lucene query, de-duplicated by MBID, up to `cap`. */
  async searchReleaseGroups(query: string, cap = Number.POSITIVE_INFINITY, seen = new Set<string>()): Promise<ReleaseGroupHit[]> {
    const out: ReleaseGroupHit[] = [];
    for (let offset = 0; out.length < cap; ) {
      const page = (await this.getJson(`/release-group?query=${encodeURIComponent(query)}&limit=100&offset=${offset}&fmt=json`)) as {
        count: number;
        'release-groups': ReleaseGroupHit[];
      };
      const hits = page['release-groups'] ?? [];
      for (const hit of hits) {
        if (seen.has(hit.id) || out.length >= cap) continue;
        seen.add(hit.id);
        out.push(hit);
      }
      offset += 100;
      if (hits.length === 0 || offset >= page.count) break;
    }
    return out;
  }
}

/** The study's two genres as search queries (recall only: labels come from the tags, exactly). */
export const genreQueries = {
  metal: '(tag:metal OR tag:metalcore OR tag:deathcore OR tag:grindcore) AND primarytype:album',
  rap: '(tag:"hip hop" OR tag:rap OR tag:trap OR tag:grime OR tag:drill) AND primarytype:album',
} as const;

/** First-release-date ranges that keep each query's hit count small (the search has a depth cap). */
export const dateRanges = ['[* TO 1979]', '[1980 TO 1989]', '[1990 TO 1994]', '[1995 TO 1999]', '[2000 TO 2004]', '[2005 TO 2009]', '[2010 TO 2014]', '[2015 TO 2019]', '[2020 TO *]'];
