import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const fixture = join(import.meta.dirname, 'fixtures', 'fitProgress.ts');

/** Runs the fixture with stderr piped (not a terminal), as in CI logs or under nohup. */
function run(mode: string, env: Record<string, string>): { stdout: string; stderr: string; batches: { train: number; valid: number } } {
  const { FASTVISION_QUIET: _, FASTVISION_PROGRESS_INTERVAL: __, ...inherited } = process.env;
  const r = spawnSync(process.execPath, [tsx, fixture, mode], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...inherited, FASTVISION_BACKEND: 'wasm', FASTVISION_OFFLINE: '1', ...env },
  });
  expect(r.stderr + r.stdout).toMatch(/done tty=false leaked=0/);
  expect(r.status).toBe(0);
  return { stdout: r.stdout, stderr: r.stderr, batches: JSON.parse(/^batches (.*)$/m.exec(r.stdout)![1]!) };
}

/** Progress lines of stderr (`label: done/total (pct%) elapsed…`), by label. */
function progressLines(stderr: string): Map<string, string[]> {
  const byLabel = new Map<string, string[]>();
  for (const line of stderr.split('\n')) {
    const m = /^(.+?): (\d+\/\d+ \(\d+%\) \d\d:\d\d.*)$/.exec(line);
    if (m) byLabel.set(m[1]!, [...(byLabel.get(m[1]!) ?? []), m[2]!]);
  }
  return byLabel;
}

const phases = ['lrFind', 'epoch 1/2 training', 'epoch 1/2 validating', 'epoch 2/2 training', 'epoch 2/2 validating', 'predicting', 'tta'];

describe('progress off a terminal', () => {
  it('a fit with validation, lrFind, getPreds and tta: one final line per phase when they take less than the interval', () => {
    const { stdout, stderr, batches } = run('on', { FASTVISION_PROGRESS_INTERVAL: '600000' });
    const lines = progressLines(stderr);
    expect([...lines.keys()]).toEqual(phases);
    const total = { lrFind: 6, training: batches.train, validating: batches.valid, predicting: batches.valid, tta: 3 * batches.valid };
    for (const label of phases) {
      const n = total[(label.split(' ').at(-1) ?? label) as keyof typeof total];
      expect(lines.get(label), label).toEqual([expect.stringMatching(new RegExp(`^${n}/${n} \\(100%\\) \\d\\d:\\d\\d$`))]);
    }
    // Many batches, one line each phase: throttled, not a line per batch.
    expect(batches.train).toBeGreaterThan(4);
    // The epoch table is the logger's, on stdout, as before.
    expect(stdout).toMatch(/^epoch +train_loss +valid_loss +time *$/m);
    expect(stdout.match(/^[01] +\d+\.\d{6} +\d+\.\d{6} +\d\d:\d\d *$/gm)).toHaveLength(2);
  });

  it('with no interval, a line per batch (what the interval bounds)', () => {
    const { stderr, batches } = run('on', { FASTVISION_PROGRESS_INTERVAL: '0' });
    const lines = progressLines(stderr);
    expect(lines.get('epoch 1/2 training')).toHaveLength(batches.train);
    expect(lines.get('epoch 2/2 validating')).toHaveLength(batches.valid);
    expect(lines.get('epoch 1/2 training')![0]).toMatch(new RegExp(`^1/${batches.train} \\(\\d+%\\) \\d\\d:\\d\\d < \\d\\d:\\d\\d$`));
  });

  it.each([
    ['FASTVISION_QUIET=1', 'on', { FASTVISION_QUIET: '1' }],
    ["the learner's progress: false", 'learner-off', {}],
    ["each call's progress: false", 'calls-off', {}],
  ])('%s: no progress lines, the epoch table still printed', (_, mode, env) => {
    const { stdout, stderr } = run(mode, { FASTVISION_PROGRESS_INTERVAL: '0', ...env });
    expect([...progressLines(stderr).keys()]).toEqual([]);
    expect(stdout).toMatch(/^epoch +train_loss +valid_loss +time *$/m);
    expect(stdout.match(/^[01] +\d+\.\d{6}/gm)).toHaveLength(2);
  });
});
