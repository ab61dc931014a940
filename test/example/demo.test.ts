import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { tempDir } from '../helpers/images.js';
import { expectPicture } from '../helpers/pictures.js';

// `npm run example -- --demo`: the whole study recipe on generated covers, as a newcomer runs it.
it('npm run example -- --demo runs the study end to end and writes report.md and every picture', () => {
  const out = join(tempDir('fastvision-demo-'), 'run');
  const run = spawnSync('npm', ['run', 'example', '--silent', '--', '--demo', '--out', out], { encoding: 'utf8', cwd: join(import.meta.dirname, '..', '..') });
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toContain('SYNTHETIC covers');
  expect(run.stdout).toMatch(/epoch {5}train_loss {2}valid_loss {2}error_rate {2}time/);
  const report = readFileSync(join(out, 'report.md'), 'utf8');
  expect(report).toContain('| frozen, 48 px |');
  expect(report).toContain('21.3%');
  for (const f of ['epochs-phase1.csv', 'epochs-phase4.csv', 'scores.csv', 'model/model.json', 'model/fastvision.json']) expect(existsSync(join(out, f)), f).toBe(true);
  return Promise.all(
    ['batch.png', 'lr-find-1.png', 'lr-find-2.png', 'loss.png', 'top-losses.png', 'confusion-matrix.png', 'most-metal.png', 'most-rap.png'].map((f) =>
      expectPicture(join(out, f), { minWidth: 200, maxWidth: 4000, minHeight: 150, maxHeight: 4000 }),
    ),
  );
}, 900_000);
