import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '../../src/core/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { FastvisionError, Learner, initBackend, loadLearner } from '../../src/index.js';
import { tempDir } from '../helpers/images.js';

const tsx = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'tsx');

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

function tinyLearner(bias = 0): Learner {
  const input = tf.input({ shape: [8, 8, 3] });
  const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2, name: 'out', biasInitializer: tf.initializers.constant({ value: bias }) }).apply(flat) as tf.SymbolicTensor });
  return new Learner(undefined, model, { inference: { vocab: ['a', 'b'], multiLabel: false, resize: { height: 8, width: 8, method: 'squish', padMode: 'reflection' } } });
}

/** The bias an export's model was saved with (how the tests tell versions apart). */
async function biasOf(dir: string): Promise<number> {
  const learn = await loadLearner(dir);
  const b = (learn.model.getLayer('out').getWeights()[1]!.dataSync() as Float32Array)[0]!;
  learn.model.dispose();
  return b;
}

const listing = (dir: string) => readdirSync(dir, { recursive: true }).map(String).sort();

describe('an export never removes what fastvision did not write', () => {
  it('refuses a folder with other things in it, and deletes nothing', async () => {
    const photos = join(tempDir(), 'photos');
    mkdirSync(join(photos, '2024'), { recursive: true });
    writeFileSync(join(photos, '2024', 'img1.jpg'), 'jpeg');
    writeFileSync(join(photos, 'thesis.docx'), 'docx');
    const before = listing(photos);
    const err = await tinyLearner().export(photos).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FastvisionError);
    expect(err).toMatchObject({ code: 'UNSAFE_PATH' });
    expect((err as Error).message).toMatch(/cannot export to '.*photos': the folder is not empty and is not a fastvision export \(it holds 2024, thesis\.docx\)/);
    expect(listing(photos)).toEqual(before);
  });

  it('refuses a project folder (as export(process.cwd()) would be)', async () => {
    const project = tempDir();
    mkdirSync(join(project, 'src'));
    writeFileSync(join(project, 'README.md'), '# mine');
    writeFileSync(join(project, 'src', 'index.ts'), 'export {}');
    await expect(tinyLearner().export(project)).rejects.toThrow(/not empty and is not a fastvision export/);
    expect(listing(project)).toEqual(['README.md', 'src', join('src', 'index.ts')]);
  });

  it('refuses a file, and leaves it a file', async () => {
    const file = join(tempDir(), 'notes.txt');
    writeFileSync(file, 'my notes');
    await expect(tinyLearner().export(file)).rejects.toThrow(/cannot export to '.*notes\.txt': it is a file, not a folder/);
    expect(readFileSync(file, 'utf8')).toBe('my notes');
  });

  it('takes a trailing slash, replaces its own export, cleans older versions and leftovers, and keeps foreign files beside it', async () => {
    const root = tempDir();
    const dir = join(root, 'out');
    await tinyLearner(1).export(`${dir}/`);
    expect(await biasOf(dir)).toBe(1);
    writeFileSync(join(dir, 'NOTES.md'), 'kept');
    // A leftover of fastvision 0.1's writer, killed between its renames.
    mkdirSync(join(root, 'out.tmp-123-456'));
    writeFileSync(join(root, 'out.tmp-123-456', 'model.json'), '{}');
    await tinyLearner(2).export(dir);
    await tinyLearner(3).export(dir);
    expect(await biasOf(dir)).toBe(3);
    const files = readdirSync(dir);
    // The current version and the one before (for readers mid-load); the first is gone.
    expect(files.filter((f) => f.startsWith('weights.'))).toHaveLength(2);
    expect(files).toContain('NOTES.md');
    expect(existsSync(join(root, 'out.tmp-123-456'))).toBe(false);
    // Plain tfjs finds the weights model.json names.
    const modelJson = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    expect(files).toContain(modelJson.weightsManifest[0].paths[0]);
  });
});

describe('replacing an export is crash-safe', () => {
  it('killed at 25 random moments while exporting again and again, the folder always loads, old or new', async () => {
    const dir = join(tempDir(), 'exp');
    const seen = new Set<number>();
    // 25 kills (each a fresh process, ~4 s to start tfjs): 50 doubled the suite's longest file for no new moment.
    for (let run = 0; run < 25; run++) {
      const delay = Math.floor(Math.random() * 40);
      const r = spawnSync(tsx, [join(import.meta.dirname, 'fixtures', 'exportLoop.ts'), dir, String(delay)], { encoding: 'utf8', env: { ...process.env, FASTVISION_BACKEND: '' } });
      // tsx runs the script in a child node; its SIGKILL shows as exit code 128 + 9.
      expect(r.signal === 'SIGKILL' || r.status === 137, r.stderr).toBe(true);
      seen.add(await biasOf(dir)); // loads, whatever moment the writer died at
      const modelJson = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
      expect(existsSync(join(dir, modelJson.weightsManifest[0].paths[0]))).toBe(true);
    }
    expect(seen.size).toBeGreaterThan(1); // the kills landed at different exports
    // Leftovers of killed writes do not pile up: at most two versions and a few temp files.
    expect(readdirSync(dir).filter((f) => f.startsWith('weights.')).length).toBeLessThanOrEqual(3);
  }, 300_000);

  it('a reader polling while an export is replaced again and again always loads a complete one', async () => {
    const dir = join(tempDir(), 'exp');
    await tinyLearner(0).export(dir);
    let writing = true;
    let loads = 0;
    const writer = (async () => {
      for (let i = 1; i <= 40; i++) await tinyLearner(i).export(dir);
      writing = false;
    })();
    const reader = (async () => {
      while (writing) {
        await biasOf(dir);
        loads++;
      }
    })();
    await Promise.all([writer, reader]);
    expect(loads).toBeGreaterThan(5);
    expect(await biasOf(dir)).toBe(40);
  }, 120_000);
});
