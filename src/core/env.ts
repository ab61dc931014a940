import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * fastvision's settings for files it fetches, in one place (as transformers.js's `env`).
 * Each reads its environment variable unless set here in code.
 *
 * @example
 * ```ts
 * import { env } from 'fastvision';
 * env.offline = true;                 // never touch the network
 * env.cacheDir = '/data/fastvision';  // where pretrained weights are kept
 * ```
 */
export interface Env {
  /** Where downloads are cached. `FASTVISION_CACHE`, default `~/.cache/fastvision`. */
  cacheDir: string;
  /** Never use the network; a missing file is an error saying where to put it. `FASTVISION_OFFLINE=1`. */
  offline: boolean;
  /** The model hub host (a mirror, or a local server in tests). `FASTVISION_HUB_URL`, default `https://huggingface.co`. */
  hubUrl: string;
}

const overrides: Partial<Env> = {};

/**
 * fastvision's download settings (cache directory, offline mode, model hub), read
 * from `FASTVISION_CACHE`, `FASTVISION_OFFLINE` and `FASTVISION_HUB_URL` unless set here.
 *
 * @example
 * ```ts
 * import { env } from 'fastvision';
 * env.offline = true;                 // never touch the network
 * env.cacheDir = '/data/fastvision';  // where pretrained weights are kept
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
    return overrides.offline ?? ['1', 'true', 'yes'].includes((process.env.FASTVISION_OFFLINE ?? '').toLowerCase());
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
};
