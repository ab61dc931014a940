import { homedir } from 'node:os';
import { join } from 'node:path';
import { FastvisionError } from './errors.js';

/**
 * fastvision's settings, in one place (as transformers.js's `env`): files it fetches,
 * and progress output. Each reads its environment variable unless set here in code.
 *
 * @example
 * ```ts
 * import { env } from 'fastvision';
 * env.offline = true;                 // never touch the network
 * env.cacheDir = '/data/fastvision';  // where pretrained weights are kept
 * env.progress = false;               // no progress bars or lines
 * ```
 */
export interface Env {
  /** Where downloads are cached. `FASTVISION_CACHE`, default `~/.cache/fastvision`. */
  cacheDir: string;
  /** Never use the network; a missing file is an error saying where to put it. `FASTVISION_OFFLINE=1`. */
  offline: boolean;
  /** The model hub host (a mirror, or a local server in tests). `FASTVISION_HUB_URL`, default `https://huggingface.co`. */
  hubUrl: string;
  /**
   * Progress bars on a terminal and progress lines otherwise (on stderr). `false`
   * silences them all, whatever a learner or a call asks; the epoch table stays.
   * `FASTVISION_QUIET=1` sets it to false. Default true.
   */
  progress: boolean;
  /**
   * Off a terminal, the least time between two progress lines of one task, in
   * milliseconds (a final line is always written). `FASTVISION_PROGRESS_INTERVAL`, default 5000.
   */
  progressInterval: number;
}

const overrides: Partial<Env> = {};

const defaultProgressInterval = 5000;

/**
 * fastvision's settings: downloads (cache directory, offline mode, model hub) and
 * progress output, read from `FASTVISION_CACHE`, `FASTVISION_OFFLINE`,
 * `FASTVISION_HUB_URL`, `FASTVISION_QUIET` and `FASTVISION_PROGRESS_INTERVAL` unless set here.
 *
 * @example
 * ```ts
 * import { env } from 'fastvision';
 * env.offline = true;                 // never touch the network
 * env.cacheDir = '/data/fastvision';  // where pretrained weights are kept
 * env.progress = false;               // no progress bars or lines
 * ```
 */
export const env: Env = {
  get cacheDir() {
    return overrides.cacheDir ?? (process.env.FASTVISION_CACHE || join(homedir(), '.cache', 'fastvision'));
  },
  set cacheDir(v: string) {
    overrides.cacheDir = v;
  },
  get offline() {
    return overrides.offline ?? isOn(process.env.FASTVISION_OFFLINE);
  },
  set offline(v: boolean) {
    overrides.offline = v;
  },
  get hubUrl() {
    return (overrides.hubUrl ?? (process.env.FASTVISION_HUB_URL || 'https://huggingface.co')).replace(/\/+$/, '');
  },
  set hubUrl(v: string) {
    overrides.hubUrl = v;
  },
  get progress() {
    return overrides.progress ?? !isOn(process.env.FASTVISION_QUIET);
  },
  set progress(v: boolean) {
    overrides.progress = v;
  },
  get progressInterval() {
    if (overrides.progressInterval !== undefined) return overrides.progressInterval;
    const raw = process.env.FASTVISION_PROGRESS_INTERVAL;
    return raw ? checkInterval(Number(raw), `FASTVISION_PROGRESS_INTERVAL='${raw}'`) : defaultProgressInterval;
  },
  set progressInterval(v: number) {
    overrides.progressInterval = checkInterval(v, `env.progressInterval = ${String(v)}`);
  },
};

function isOn(value: string | undefined): boolean {
  return ['1', 'true', 'yes'].includes((value ?? '').toLowerCase());
}

function checkInterval(ms: number, what: string): number {
  if (!(Number.isFinite(ms) && ms >= 0)) throw new FastvisionError('BAD_OPTION', `${what} is not a number of milliseconds (0 or more)`);
  return ms;
}
