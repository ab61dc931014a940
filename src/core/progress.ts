import cliProgress from 'cli-progress';
import { env } from './env.js';

/** Reports how far long work has got: a bar on a terminal, throttled plain lines otherwise. */
export interface Progress {
  /** `done` units of the total are finished. */
  update(done: number): void;
  /** Ends the report (the bar's last state, or a final line); calling it again does nothing. */
  stop(): void;
}

/** How {@link progressBar} reports. */
export interface ProgressOptions {
  /** What `done` and `total` count. Default `'items'`. */
  unit?: 'items' | 'bytes';
  /** `false` reports nothing (a learner's or a call's `progress: false`). `env.progress = false` silences every report whatever this says. */
  show?: boolean;
  /** On a terminal, erase the bar when it stops: the learner's epoch table takes its place, as in fastai's console. */
  transient?: boolean;
  /** Report nothing, not even a final line, until the work has taken this long (ms): quick work stays silent. Default 0. */
  delay?: number;
  /** Where to write and whether it is a terminal. Default `process.stderr`. @internal */
  stream?: { isTTY?: boolean; write(text: string): unknown };
  /** The clock, in ms. Default `performance.now`. @internal */
  now?: () => number;
  /** Least time between plain lines. Default `env.progressInterval`. @internal */
  interval?: number;
}

const silent: Progress = { update() {}, stop() {} };

/**
 * mm:ss, as fastai's `format_time`.
 *
 * @param seconds - A duration.
 *
 * @example
 * ```ts
 * formatTime(83);   // '01:23'
 * ```
 */
export function formatTime(seconds: number): string {
  const s = Math.round(seconds);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * Progress of `total` units of work called `label`, on stderr. On a terminal, a
 * cli-progress bar; elsewhere (CI logs, nohup) a line such as
 * `validating: 40/64 (62%) 00:12 < 00:07` at most every `env.progressInterval` ms,
 * and a final one when it stops (after any progress). Nothing keeps Node alive: the
 * bar's redraw timer is unref'd, and `stop()` may be called any number of times.
 *
 * @param label - What the work is, e.g. `'epoch 1/3 training'`.
 * @param total - Units of work in all; 0 when unknown.
 * @param opts - Unit, whether to show it, transient bar, delay.
 *
 * @example
 * ```ts
 * const bar = progressBar('checking files', files.length, { delay: 1000 });
 * try {
 *   for (const [i, f] of files.entries()) { await check(f); bar.update(i + 1); }
 * } finally {
 *   bar.stop();
 * }
 * ```
 */
export function progressBar(label: string, total: number, opts: ProgressOptions = {}): Progress {
  if (opts.show === false || !env.progress) return silent;
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? (() => performance.now());
  const start = now();
  const delay = opts.delay ?? 0;
  const describe = progressText(total, opts.unit ?? 'items');
  let done = 0;
  let stopped = false;

  if (stream.isTTY) {
    let bar: cliProgress.SingleBar | undefined;
    const show = () => {
      if (!bar && now() - start >= delay) {
        bar = new UnrefBar({ format: `${label} [{bar}] {text}`, hideCursor: true, clearOnComplete: opts.transient ?? false, stream: stream as NodeJS.WritableStream }, cliProgress.Presets.shades_classic);
        bar.start(total || 1, 0, { text: describe(0, 0) });
      }
      bar?.update(total ? Math.min(done, total) : 0, { text: describe(done, (now() - start) / 1000) });
    };
    show();
    return {
      update(d) {
        if (stopped) return;
        done = d;
        show();
      },
      stop() {
        if (stopped) return;
        stopped = true;
        if (bar) show();
        bar?.stop();
      },
    };
  }

  const interval = opts.interval ?? env.progressInterval;
  let last = start;
  // Work that stopped before any progress (cancelled, failed at once) leaves no line.
  let lastDone = 0;
  const line = () => {
    stream.write(`${label}: ${describe(done, (now() - start) / 1000)}\n`);
    last = now();
    lastDone = done;
  };
  return {
    update(d) {
      if (stopped) return;
      done = d;
      const t = now();
      if (t - start >= delay && t - last >= interval) line();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (now() - start >= delay && done !== lastDone) line();
    },
  };
}

/** `40/64 (62%) 00:12 < 00:07`: done of total, share, time so far and time left. */
function progressText(total: number, unit: 'items' | 'bytes'): (done: number, seconds: number) => string {
  const amount = (n: number) => (unit === 'bytes' ? `${(n / 1024 ** 2).toFixed(1)} MB` : String(n));
  return (done, seconds) => {
    if (!total) return `${amount(done)} ${formatTime(seconds)}`;
    const pct = Math.floor((100 * Math.min(done, total)) / total);
    const left = done > 0 && done < total ? ` < ${formatTime((seconds * (total - done)) / done)}` : '';
    return `${amount(done)}/${amount(total)} (${pct}%) ${formatTime(seconds)}${left}`;
  };
}

/** A cli-progress bar whose redraw timer never keeps Node alive, even if a crash skips `stop()`. */
class UnrefBar extends cliProgress.SingleBar {
  override render(): void {
    super.render();
    (this as unknown as { timer?: { unref?: () => void } }).timer?.unref?.();
  }
}
