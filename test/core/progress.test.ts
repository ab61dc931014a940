import { afterEach, describe, expect, it, vi } from 'vitest';
import { env } from '../../src/core/env.js';
import { formatTime, progressBar, type ProgressOptions } from '../../src/core/progress.js';

/** A stream that records what is written, and a clock the test moves by hand. */
function fakes(isTTY = false) {
  const written: string[] = [];
  let t = 0;
  const stream = { isTTY, columns: 80, write: (s: string) => written.push(s) };
  return {
    written,
    lines: () => written.join('').split('\n').filter(Boolean),
    at: (ms: number) => void (t = ms),
    opts: (o: ProgressOptions = {}): ProgressOptions => ({ stream, now: () => t, ...o }),
  };
}

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('progress off a terminal: throttled plain lines', () => {
  it('writes at most one line per interval, then a final line when it stops', () => {
    const f = fakes();
    const bar = progressBar('validating', 64, f.opts({ interval: 5000 }));
    // A batch every 500 ms: 64 updates over 32 s.
    for (let i = 1; i <= 64; i++) {
      f.at(i * 500);
      bar.update(i);
    }
    bar.stop();
    // Lines at 5 s, 10 s, … 30 s, and the final one at 32 s.
    expect(f.lines()).toEqual([
      'validating: 10/64 (15%) 00:05 < 00:27',
      'validating: 20/64 (31%) 00:10 < 00:22',
      'validating: 30/64 (46%) 00:15 < 00:17',
      'validating: 40/64 (62%) 00:20 < 00:12',
      'validating: 50/64 (78%) 00:25 < 00:07',
      'validating: 60/64 (93%) 00:30 < 00:02',
      'validating: 64/64 (100%) 00:32',
    ]);
  });

  it('counts the interval from the last line, not from a fixed grid', () => {
    const f = fakes();
    const bar = progressBar('training', 10, f.opts({ interval: 1000 }));
    for (const [ms, done] of [[900, 1], [1000, 2], [1900, 3], [2100, 4], [2999, 5], [3100, 6]] as const) {
      f.at(ms);
      bar.update(done);
    }
    expect(f.lines().map((l) => l.split(' ')[1])).toEqual(['2/10', '4/10', '6/10']);
  });

  it('quick work gets only the final line', () => {
    const f = fakes();
    const bar = progressBar('predicting', 3, f.opts({ interval: 5000 }));
    [1, 2, 3].forEach((d) => bar.update(d));
    f.at(1200);
    bar.stop();
    expect(f.lines()).toEqual(['predicting: 3/3 (100%) 00:01']);
  });

  it('does not repeat the last line when it stops, and a second stop writes nothing', () => {
    const f = fakes();
    const bar = progressBar('tta', 4, f.opts({ interval: 0 }));
    bar.update(4);
    bar.stop();
    bar.stop();
    bar.update(5);
    expect(f.lines()).toEqual(['tta: 4/4 (100%) 00:00']);
  });

  it('work that stops before any progress writes nothing', () => {
    const f = fakes();
    const bar = progressBar('epoch 1/1 validating', 2, f.opts({ interval: 0 }));
    f.at(3000);
    bar.stop();
    expect(f.written).toEqual([]);
  });

  it('with a delay, work done sooner writes nothing at all; longer work is reported', () => {
    const quick = fakes();
    const a = progressBar('checking files', 100, quick.opts({ delay: 1000, interval: 0 }));
    quick.at(999);
    a.update(100);
    a.stop();
    expect(quick.written).toEqual([]);

    const slow = fakes();
    const b = progressBar('checking files', 100, slow.opts({ delay: 1000, interval: 0 }));
    slow.at(500);
    b.update(40);
    slow.at(1500);
    b.update(90);
    slow.at(1600);
    b.update(100);
    b.stop();
    expect(slow.lines()).toEqual(['checking files: 90/100 (90%) 00:02 < 00:00', 'checking files: 100/100 (100%) 00:02']);
  });

  it('shows bytes in MB, and an unknown total without share or time left', () => {
    const f = fakes();
    const bar = progressBar('downloading', 0, f.opts({ unit: 'bytes', interval: 0 }));
    f.at(3000);
    bar.update(5 * 1024 ** 2);
    expect(f.lines()).toEqual(['downloading: 5.0 MB 00:03']);
  });
});

describe('silence', () => {
  it('show: false writes nothing', () => {
    const f = fakes();
    const bar = progressBar('training', 4, f.opts({ show: false, interval: 0 }));
    bar.update(4);
    bar.stop();
    expect(f.written).toEqual([]);
  });

  it('FASTVISION_QUIET=1 turns env.progress off, which silences every report', () => {
    vi.stubEnv('FASTVISION_QUIET', '');
    expect(env.progress).toBe(true);
    vi.stubEnv('FASTVISION_QUIET', '1');
    expect(env.progress).toBe(false);
    const f = fakes();
    const bar = progressBar('training', 4, f.opts({ show: true, interval: 0 }));
    bar.update(4);
    bar.stop();
    expect(f.written).toEqual([]);
  });

  it('env.progress set in code wins over the variable', () => {
    vi.stubEnv('FASTVISION_QUIET', '1');
    env.progress = true;
    try {
      expect(env.progress).toBe(true);
      env.progress = false;
      vi.stubEnv('FASTVISION_QUIET', '');
      expect(env.progress).toBe(false);
    } finally {
      env.progress = true;
    }
  });
});

describe('env.progressInterval', () => {
  it('reads FASTVISION_PROGRESS_INTERVAL in ms, 5000 by default, and refuses what is not a duration', () => {
    vi.stubEnv('FASTVISION_PROGRESS_INTERVAL', '');
    expect(env.progressInterval).toBe(5000);
    vi.stubEnv('FASTVISION_PROGRESS_INTERVAL', '250');
    expect(env.progressInterval).toBe(250);
    vi.stubEnv('FASTVISION_PROGRESS_INTERVAL', 'often');
    expect(() => env.progressInterval).toThrow(/FASTVISION_PROGRESS_INTERVAL='often' is not a number of milliseconds/);
    expect(() => (env.progressInterval = -1)).toThrow(/env\.progressInterval = -1 is not a number of milliseconds/);
  });

  it('is the default interval of plain lines', () => {
    vi.stubEnv('FASTVISION_PROGRESS_INTERVAL', '2000');
    const f = fakes();
    const bar = progressBar('training', 10, f.opts());
    f.at(1999);
    bar.update(1);
    f.at(2000);
    bar.update(2);
    expect(f.lines()).toEqual(['training: 2/10 (20%) 00:02 < 00:08']);
  });
});

describe('progress on a terminal', () => {
  it('draws a bar whose redraw timer does not keep Node alive; stop is safe twice', () => {
    const f = fakes(true);
    const before = timers();
    const bar = progressBar('epoch 1/1 training', 8, f.opts({ transient: true }));
    bar.update(3);
    expect(f.written.join('')).toMatch(/epoch 1\/1 training \[.*\] 0\/8 \(0%\) 00:00/);
    expect(timers()).toBe(before);
    bar.stop();
    // cli-progress throttles redraws; stopping draws the last state.
    expect(f.written.join('')).toMatch(/epoch 1\/1 training \[.*\] 3\/8 \(37%\) 00:00/);
    const drawn = f.written.length;
    bar.stop();
    bar.update(8);
    expect(f.written.length).toBe(drawn);
    expect(timers()).toBe(before);
  });

  it('with a delay, no bar until the work has taken that long', () => {
    const f = fakes(true);
    const bar = progressBar('checking files', 100, f.opts({ delay: 1000 }));
    bar.update(50);
    expect(f.written).toEqual([]);
    f.at(1000);
    bar.update(60);
    bar.stop();
    expect(f.written.join('')).toMatch(/checking files \[.*\] 60\/100 \(60%\) 00:01/);
  });
});

describe('formatTime', () => {
  it('is mm:ss, as fastai', () => {
    expect(formatTime(83)).toBe('01:23');
    expect(formatTime(0.4)).toBe('00:00');
    expect(formatTime(3725)).toBe('62:05');
  });
});
