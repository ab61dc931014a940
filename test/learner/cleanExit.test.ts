import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/images.js';
import { writePatterns } from '../helpers/patterns.js';

const root = join(import.meta.dirname, '..', '..');
const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
let data: Awaited<ReturnType<typeof writePatterns>>;

beforeAll(async () => {
  data = await writePatterns(16);
});

/** Runs a command under a pseudo-terminal (`script`), so stderr is a TTY and progress bars draw; returns how it ended. */
function onTerminal(command: string[], timeoutMs: number): { status: number | null; output: string; ms: number } {
  const quoted = command.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const t0 = performance.now();
  const r = spawnSync('script', ['-qec', quoted, '/dev/null'], { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, FASTVISION_BACKEND: 'wasm', FASTVISION_OFFLINE: '1' } });
  return { status: r.status, output: r.stdout, ms: performance.now() - t0 };
}

describe('on a terminal, fastvision lets the process exit by itself', () => {
  it('a script that calls lrFind() (the LR finder cancels its fit mid-epoch)', () => {
    const r = onTerminal([process.execPath, tsx, join(import.meta.dirname, 'fixtures', 'lrFindOnTty.ts'), data.dir], 60_000);
    expect(r.output).toMatch(/lrFind done: tty=true/);
    expect(r.status).toBe(0);
    expect(r.ms).toBeLessThan(60_000);
  }, 90_000);

  it('a script that fits with validation, then runs getPreds and tta (a bar for each)', () => {
    const r = onTerminal([process.execPath, tsx, join(import.meta.dirname, 'fixtures', 'fitProgress.ts'), 'on'], 60_000);
    expect(r.output).toMatch(/done tty=true leaked=0/);
    for (const bar of ['lrFind', 'epoch 1/2 training', 'epoch 2/2 validating', 'predicting', 'tta']) expect(r.output).toContain(`${bar} [`);
    // A status, not null: it ended by itself before spawnSync's timeout.
    expect(r.status).toBe(0);
  }, 90_000);

  it('fastvision train with its default --lr auto', () => {
    const csv = join(data.dir, 'labels.csv');
    writeFileSync(csv, `fn,label\n${data.rows.map((x) => `${x.fn},${x.label}`).join('\n')}\n`);
    const out = join(tempDir(), 'run');
    const r = onTerminal([process.execPath, tsx, join(root, 'src', 'cli.ts'), 'train', '--csv', csv, '--out', out, '--arch', 'resnet18', '--pretrained', 'false', '--size', '16', '--bs', '4', '--epochs', '1', '--lr-find-iters', '10'], 120_000);
    expect(r.output).toMatch(/Wrote /);
    expect(r.status).toBe(0);
    expect(r.ms).toBeLessThan(120_000);
  }, 150_000);
});
