import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataLoaders, FastvisionError, initBackend } from '../../src/index.js';
import { tempDir, writeImage } from '../helpers/images.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

/** A data folder with 8 images in two classes, and a folder beside it with a secret image. */
async function layout() {
  const root = tempDir();
  const data = join(root, 'data');
  const outside = join(root, 'outside');
  mkdirSync(join(data, 'images'), { recursive: true });
  mkdirSync(outside);
  const rows: { fn: string; label: string }[] = [];
  for (let i = 0; i < 8; i++) {
    const fn = `images/${i}.png`;
    await writeImage(join(data, fn), { color: i % 2 ? [200, 0, 0] : [0, 0, 200] });
    rows.push({ fn, label: i % 2 ? 'red' : 'blue' });
  }
  await writeImage(join(outside, 'secret.png'), { color: [1, 2, 3] });
  return { root, data, outside, rows };
}

describe('items must lie inside the data folder', () => {
  it('without `path`, absolute and ../ names are refused (the current folder is the data folder)', async () => {
    const { data, outside, rows } = await layout();
    const cwd = process.cwd();
    process.chdir(data);
    try {
      for (const fn of [join(outside, 'secret.png'), '../outside/secret.png']) {
        const err = await DataLoaders.fromDataFrame([...rows, { fn, label: 'red' }], { size: 8, bs: 2 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(FastvisionError);
        expect(err).toMatchObject({ code: 'UNSAFE_PATH' });
        expect((err as Error).message).toMatch(/points outside path '\.'/);
      }
    } finally {
      process.chdir(cwd);
    }
  });

  it('a symlink that leads out of the data folder is refused; allowOutsidePath lets it in', async () => {
    const { data, outside, rows } = await layout();
    symlinkSync(join(outside, 'secret.png'), join(data, 'images', 'link.png'));
    const table = [...rows, { fn: 'images/link.png', label: 'red' }];
    await expect(DataLoaders.fromDataFrame(table, { path: data, size: 8, bs: 2 })).rejects.toThrow(
      /1 image file\(s\) lie outside the data folder '.*data' once symlinks are resolved:\n {2}.*link\.png \(row 9\) → .*outside\/secret\.png/,
    );
    const dls = await DataLoaders.fromDataFrame(table, { path: data, size: 8, bs: 2, allowOutsidePath: true });
    expect(dls.train.n + dls.valid.n).toBe(9);
  });

  it('fromCsv: names are relative to the CSV’s folder by default, and held to it', async () => {
    const { data, rows } = await layout();
    writeFileSync(join(data, 'labels.csv'), `fn,label\n${rows.map((r) => `${r.fn},${r.label}`).join('\n')}\n../outside/secret.png,red\n`);
    await expect(DataLoaders.fromCsv(join(data, 'labels.csv'), { size: 8, bs: 2 })).rejects.toThrow(/row 9 \(line 10 of .*labels\.csv\)\) points outside path/);
    writeFileSync(join(data, 'labels.csv'), `fn,label\n${rows.map((r) => `${r.fn},${r.label}`).join('\n')}\n`);
    const dls = await DataLoaders.fromCsv(join(data, 'labels.csv'), { size: 8, bs: 2 });
    expect(dls.train.n + dls.valid.n).toBe(8);
  });

  it('fromFolder follows no symlinked folder out of the tree, and never loops', async () => {
    const root = tempDir();
    const tree = join(root, 'tree');
    for (const cls of ['cats', 'dogs']) {
      mkdirSync(join(tree, cls), { recursive: true });
      for (let i = 0; i < 5; i++) await writeImage(join(tree, cls, `${i}.png`), { color: cls === 'cats' ? [9, 9, 9] : [200, 200, 200] });
    }
    mkdirSync(join(root, 'elsewhere'));
    for (let i = 0; i < 5; i++) await writeImage(join(root, 'elsewhere', `${i}.png`), { color: [1, 1, 1] });
    symlinkSync(join(root, 'elsewhere'), join(tree, 'intruders'), 'dir'); // out of the tree: would become a class
    symlinkSync('../..', join(tree, 'cats', 'loop'), 'dir'); // back up: would repeat everything
    symlinkSync(join(tree, 'dogs'), join(tree, 'cats', 'also-dogs'), 'dir'); // inside, but already walked
    const dls = await DataLoaders.fromFolder(tree, { validPct: 0.2, seed: 1, size: 8, bs: 2 });
    expect(dls.vocab).toEqual(['cats', 'dogs']);
    expect(dls.train.n + dls.valid.n).toBe(10);
  });
});
