import { mkdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import * as tf from '../../src/core/tf.js';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  DataBlock,
  DataLoaders,
  FastvisionError,
  funcSplitter,
  getImageFiles,
  grandparentSplitter,
  initBackend,
  parentLabel,
  randomSplitter,
  regexLabeller,
} from '../../src/index.js';
import { tempDir, writeImage, type Rgb } from '../helpers/images.js';

const colors: Record<string, Rgb> = { Abyssinian: [255, 0, 0], beagle: [0, 255, 0], great_pyrenees: [0, 0, 255], cats: [255, 0, 0], dogs: [0, 0, 255] };
const root = tempDir();
/** fastai's pets layout: every image in one folder, the breed in the file name. */
const pets = join(root, 'pets', 'images');
const petNames = [
  ...[1, 2, 3, 4].map((i) => `Abyssinian_${i}.jpg`),
  ...[10, 11, 12, 13].map((i) => `beagle_${i}.jpg`),
  ...[1, 2, 3, 4].map((i) => `great_pyrenees_${i}.jpg`),
];
/** ImageNet's layout: train/<class>/…, valid/<class>/…, and a test/ folder. */
const imagenet = join(root, 'imagenet');
const opts = { validPct: 0.25, seed: 42, size: 8, bs: 3 };
const pat = /^(.+)_\d+\.jpg$/;

const breedOf = (file: string) => basename(file).replace(/_\d+\.jpg$/, '');

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  for (const name of petNames) await writeImage(join(pets, name), { color: colors[breedOf(name)]!, width: 16, height: 12, format: 'jpeg' });
  for (const [split, n] of [['train', 3], ['valid', 2], ['test', 1]] as const) {
    for (const cls of ['cats', 'dogs']) {
      for (let i = 0; i < n; i++) await writeImage(join(imagenet, split, cls, `${cls}${i}.png`), { color: colors[cls]!, width: 10, height: 10 });
    }
  }
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Which file each item of a split is (relative to `base`, `/`-separated), in order. */
const filesOf = (dls: DataLoaders, split: 'train' | 'valid', base: string) =>
  [...dls[split].indices].map((i) => relative(base, dls.itemAt(i).file).split('\\').join('/'));

/** Every batch of both splits: checks labels against `expected` and colours, then disposes. Returns the number of images seen. */
async function checkBatches(dls: DataLoaders, expected: (file: string) => string): Promise<number> {
  let seen = 0;
  for (const split of ['train', 'valid'] as const) {
    for await (const { x, y, indices } of dls[split]) {
      const labels = (await y.array()) as number[];
      const pixels = (await x.array()) as number[][][][];
      indices.forEach((item, k) => {
        const label = dls.vocab[labels[k]!]!;
        expect(label).toBe(expected(dls.itemAt(item).file));
        pixels[k]![4]![4]!.forEach((v, c) => expect(v).toBeCloseTo(colors[label]![c]! / 255, 1));
      });
      seen += indices.length;
      tf.dispose([x, y]);
    }
  }
  return seen;
}

describe('DataLoaders.fromNameRe (fastai’s from_name_re)', () => {
  it('labels each file by the first group of the pattern on its name: sorted vocab, validPct split, batches that match', async () => {
    const dls = await DataLoaders.fromNameRe(pets, petNames, pat, opts);
    // Sorted as Python sorts strings: capitals first.
    expect(dls.vocab).toEqual(['Abyssinian', 'beagle', 'great_pyrenees']);
    expect(dls.multiLabel).toBe(false);
    expect(dls.valid.n).toBe(3); // floor(0.25 · 12)
    expect(dls.train.n).toBe(9);
    expect(new Set([...filesOf(dls, 'train', pets), ...filesOf(dls, 'valid', pets)])).toEqual(new Set(petNames));
    expect(dls.path).toBe(pets);

    await checkBatches(dls, breedOf); // warms the backend up before counting tensors
    const before = tf.memory().numTensors;
    // dropLast: 9 training images make 3 batches of 3; validation keeps all 3.
    expect(await checkBatches(dls, breedOf)).toBe(12);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('makes the same split for the same seed (and the one fromLists makes), another for another seed', async () => {
    const a = await DataLoaders.fromNameRe(pets, petNames, pat, opts);
    const b = await DataLoaders.fromNameRe(pets, petNames, pat, opts);
    expect(filesOf(b, 'valid', pets)).toEqual(filesOf(a, 'valid', pets));
    const lists = await DataLoaders.fromLists(pets, petNames, petNames.map(breedOf), opts);
    expect(filesOf(lists, 'valid', pets).sort()).toEqual(filesOf(a, 'valid', pets).sort());
    const other = await DataLoaders.fromNameRe(pets, petNames, pat, { ...opts, seed: 7 });
    expect(filesOf(other, 'valid', pets).sort()).not.toEqual(filesOf(a, 'valid', pets).sort());
  });

  it('uses fastai’s default validPct of 0.2, and a pattern given as a string', async () => {
    const dls = await DataLoaders.fromNameRe(pets, petNames, '_?([a-z]+)_\\d+\\.jpg$', { size: 8 });
    expect(dls.valid.n).toBe(2); // floor(0.2 · 12)
    // Searched for anywhere in the name, as re.search: 'Abyssinian' yields its lower-case tail.
    expect(dls.vocab).toEqual(['byssinian', 'beagle', 'pyrenees'].sort());
  });

  it('takes getImageFiles(path) as it comes, for a relative path too', async () => {
    const rel = relative(process.cwd(), pets);
    const dls = await DataLoaders.fromNameRe(rel, await getImageFiles(rel), pat, opts);
    expect(dls.vocab).toEqual(['Abyssinian', 'beagle', 'great_pyrenees']);
    expect(dls.train.n + dls.valid.n).toBe(12);
  });

  it('takes absolute file names inside path (fastai passes absolute paths), and refuses ones outside it', async () => {
    const dls = await DataLoaders.fromNameRe(pets, petNames.map((n) => join(pets, n)), pat, opts);
    expect(dls.vocab).toEqual(['Abyssinian', 'beagle', 'great_pyrenees']);
    expect(dls.train.n + dls.valid.n).toBe(12);

    const outside = join(root, 'elsewhere', 'beagle_99.jpg');
    await writeImage(outside, { color: colors.beagle!, format: 'jpeg' });
    const err = await DataLoaders.fromNameRe(pets, [...petNames, outside], pat, opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FastvisionError);
    expect(err).toMatchObject({ code: 'UNSAFE_PATH' });
    expect((err as Error).message).toContain(`'${outside}' (item 12) points outside path`);
    await expect(DataLoaders.fromNameRe(pets, ['../elsewhere/beagle_99.jpg', ...petNames], pat, opts)).rejects.toThrow(/points outside path/);
    // A symlink inside path that leads outside it is refused too, after the labels.
    const link = join(pets, 'beagle_98.jpg');
    symlinkSync(outside, link);
    try {
      await expect(DataLoaders.fromNameRe(pets, [...petNames, 'beagle_98.jpg'], pat, opts)).rejects.toThrow(/lie outside the data folder .* once symlinks are resolved/);
    } finally {
      unlinkSync(link);
    }
    const allowed = await DataLoaders.fromNameRe(pets, [...petNames, outside], pat, { ...opts, allowOutsidePath: true });
    expect(allowed.train.n + allowed.valid.n).toBe(13);
  });
});

describe('fromPathRe, fromNameFunc, fromPathFunc', () => {
  const treeFiles = async () => (await getImageFiles(imagenet, { folders: ['train', 'valid'] })).map((f) => relative(imagenet, f));

  it('fromPathRe applies the pattern to the /-separated path relative to path', async () => {
    const dls = await DataLoaders.fromPathRe(imagenet, await treeFiles(), /^(?:train|valid)\/([a-z]+)\//, { ...opts, bs: 2 });
    expect(dls.vocab).toEqual(['cats', 'dogs']);
    expect(dls.train.n + dls.valid.n).toBe(10);
    expect(await checkBatches(dls, parentLabel)).toBe(10); // 8 training (dropLast keeps 4 full batches of 2) + 2 validation
  });

  it('fromNameFunc labels by the file name; booleans are labels, as fastbook’s is_cat', async () => {
    const seen: string[] = [];
    const isCat = (name: string) => {
      seen.push(name);
      return name[0] === name[0]!.toUpperCase();
    };
    const dls = await DataLoaders.fromNameFunc(pets, petNames, isCat, opts);
    expect(dls.vocab).toEqual(['false', 'true']);
    expect(seen.sort()).toEqual([...petNames].sort());
    const byName = await DataLoaders.fromNameFunc(pets, petNames, (name) => (name.startsWith('A') ? 'cat' : 'dog'), opts);
    expect(byName.vocab).toEqual(['cat', 'dog']);
    // Same file names and seed: the same split, whatever the labels.
    expect(filesOf(byName, 'valid', pets)).toEqual(filesOf(dls, 'valid', pets));
  });

  it('fromPathFunc gives the function the path relative to path, and a list of labels makes multi-label data', async () => {
    const seen: string[] = [];
    const dls = await DataLoaders.fromPathFunc(imagenet, await treeFiles(), (p) => {
      seen.push(p);
      const [split, cls] = p.split('/');
      return [cls!, split!];
    }, { ...opts, bs: 2 });
    expect(seen).toContain('train/cats/cats0.png');
    expect(seen).toContain('valid/dogs/dogs1.png');
    expect(dls.multiLabel).toBe(true);
    expect(dls.vocab).toEqual(['cats', 'dogs', 'train', 'valid']);
    const { x, y, indices } = await dls.valid.oneBatch();
    expect(y.dtype).toBe('float32');
    const hot = (await y.array()) as number[][];
    indices.forEach((i, k) => {
      const [split, cls] = relative(imagenet, dls.itemAt(i).file).split(/[\\/]/);
      expect(hot[k]).toEqual(dls.vocab.map((v) => (v === cls || v === split ? 1 : 0)));
    });
    tf.dispose([x, y]);
  });
});

describe('DataBlock', () => {
  it('getImageFiles + parentLabel + grandparentSplitter load an ImageNet-style tree as fromFolder does', async () => {
    const block = new DataBlock({ getItems: (p: string) => getImageFiles(p, { folders: ['train', 'valid'] }), getY: parentLabel, splitter: grandparentSplitter() });
    const dls = await block.dataloaders(imagenet, { size: 8, bs: 2, seed: 1 });
    expect(dls.vocab).toEqual(['cats', 'dogs']);
    expect(dls.path).toBe(imagenet);
    expect(filesOf(dls, 'valid', imagenet)).toEqual(['valid/cats/cats0.png', 'valid/cats/cats1.png', 'valid/dogs/dogs0.png', 'valid/dogs/dogs1.png']);
    expect(filesOf(dls, 'train', imagenet).every((f) => f.startsWith('train/'))).toBe(true);
    expect(dls.train.n).toBe(6);
    const folder = await DataLoaders.fromFolder(imagenet, { size: 8, bs: 2 });
    expect(filesOf(folder, 'valid', imagenet)).toEqual(filesOf(dls, 'valid', imagenet));

    await checkBatches(dls, parentLabel);
    const before = tf.memory().numTensors;
    expect(await checkBatches(dls, parentLabel)).toBe(10);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('leaves out, with a warning, the items the splitter puts in neither set (a test/ folder)', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const block = new DataBlock({ getItems: getImageFiles, getY: parentLabel, splitter: grandparentSplitter() });
    const dls = await block.dataloaders(imagenet, { size: 8, bs: 2 });
    expect(dls.train.n + dls.valid.n).toBe(10);
    expect(warn).toHaveBeenCalledOnce();
    expect(warn.mock.calls[0]![0]).toMatch(/the splitter puts 2 of 12 items of '.*imagenet' in neither set; they are not used \(test\/cats\/cats0\.png, test\/dogs\/dogs0\.png\)/);
  });

  it('with regexLabeller and randomSplitter is the same dataset as fromNameRe: one code path', async () => {
    const block = new DataBlock({ getItems: getImageFiles, getY: regexLabeller(/([^/\\]+)_\d+\.jpg$/), splitter: randomSplitter(0.25, 42) });
    const viaBlock = await block.dataloaders(pets, { size: 8, bs: 3, seed: 42 });
    const viaFactory = await DataLoaders.fromNameRe(pets, petNames, pat, opts);
    expect(viaBlock.vocab).toEqual(viaFactory.vocab);
    expect(filesOf(viaBlock, 'valid', pets)).toEqual(filesOf(viaFactory, 'valid', pets));
    expect(filesOf(viaBlock, 'train', pets)).toEqual(filesOf(viaFactory, 'train', pets));
    // The shuffle follows the loader's seed, as in every factory.
    const firstBatch = async (dls: DataLoaders) => {
      const { x, y, indices } = await dls.train.oneBatch();
      tf.dispose([x, y]);
      return indices.map((i) => basename(dls.itemAt(i).file));
    };
    expect(await firstBatch(viaBlock)).toEqual(await firstBatch(viaFactory));
  });

  it('funcSplitter sends the items it is true for to validation; the default splitter is fastai’s random 20%', async () => {
    const block = new DataBlock({ getItems: getImageFiles, getY: regexLabeller(/([^/\\]+)_\d+\.jpg$/), splitter: funcSplitter((f: string) => /_(1|10)\.jpg$/.test(f)) });
    const dls = await block.dataloaders(pets, { size: 8 });
    expect(filesOf(dls, 'valid', pets)).toEqual(['Abyssinian_1.jpg', 'beagle_10.jpg', 'great_pyrenees_1.jpg']);
    const byDefault = await new DataBlock({ getItems: getImageFiles, getY: regexLabeller(/([^/\\]+)_\d+\.jpg$/) }).dataloaders(pets, { size: 8 });
    expect(byDefault.valid.n).toBe(2);
  });

  it('refuses validPct and stratify (the splitter splits) and a splitter answer that is not two index lists', async () => {
    const block = new DataBlock({ getItems: getImageFiles, getY: parentLabel });
    await expect(block.dataloaders(pets, { validPct: 0.3 } as never)).rejects.toThrow('DataBlock.dataloaders does not take validPct');
    const bad = new DataBlock({ getItems: getImageFiles, getY: parentLabel, splitter: (): [number[], number[]] => [[0, 1], [99]] });
    await expect(bad.dataloaders(pets)).rejects.toThrow('the splitter must return [trainIdx, validIdx], two lists of item indices from 0 to 11; got [[0,1],[99]]');
    const twice = new DataBlock({ getItems: getImageFiles, getY: parentLabel, splitter: (): [number[], number[]] => [[0, 1], [1]] });
    await expect(twice.dataloaders(pets)).rejects.toThrow('the splitter lists Abyssinian_2.jpg (item 1) twice; an item belongs to one set at most');
    expect(() => new DataBlock({ getItems: getImageFiles } as never)).toThrow("DataBlock's getY must be a function, got undefined");
    // The pets folder has no train/ or valid/ folders: say so, not just "empty".
    const flat = new DataBlock({ getItems: getImageFiles, getY: parentLabel, splitter: grandparentSplitter() });
    await expect(flat.dataloaders(pets)).rejects.toThrow(`the splitter leaves the training set of '${pets}' empty (12 items, 12 of them in neither set)`);
  });
});

describe('clear errors', () => {
  it('names the files the pattern does not match, the first 20 and how many more', async () => {
    const odd = ['notes.jpg', 'IMG.jpg', ...Array.from({ length: 22 }, (_, i) => `scan${i}.jpg`)];
    const err = await DataLoaders.fromNameRe(pets, [...petNames, ...odd], pat, opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FastvisionError);
    expect(err).toMatchObject({ code: 'BAD_DATA' });
    const message = (err as Error).message;
    expect(message).toMatch(/^fastvision: 24 of 36 items of '.*images' cannot be labelled:\n {2}notes\.jpg: \/\^\(\.\+\)_\\d\+\\\.jpg\$\/ does not match 'notes\.jpg'\n {2}IMG\.jpg: /);
    expect(message).toContain('scan17.jpg');
    expect(message).not.toContain('scan18.jpg');
    expect(message).toContain('… and 4 more');
    // Nothing else is checked first: the error comes before any file is read.
    await expect(DataLoaders.fromNameRe(pets, ['missing_1.jpg', 'notes.jpg'], pat, opts)).rejects.toThrow("notes.jpg: /^(.+)_\\d+\\.jpg$/ does not match 'notes.jpg'");
  });

  it('a pattern with no capture group, or an empty first group', async () => {
    await expect(DataLoaders.fromNameRe(pets, petNames, /_\d+\.jpg$/, opts)).rejects.toThrow('the label pattern /_\\d+\\.jpg$/ has no capture group');
    await expect(DataLoaders.fromNameRe(pets, petNames, /^([a-z]*)[A-Za-z_]+\d+\.jpg$/, opts)).rejects.toThrow("Abyssinian_1.jpg: the first group of /^([a-z]*)[A-Za-z_]+\\d+\\.jpg$/ is empty in 'Abyssinian_1.jpg'");
  });

  it('a label function that returns something empty names the files and what it returned', async () => {
    const label = (name: string) => (name.startsWith('beagle_1') ? (name.endsWith('0.jpg') ? undefined : ' ') : 'pet');
    const err = await DataLoaders.fromNameFunc(pets, petNames, label as never, opts).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BAD_DATA' });
    expect((err as Error).message).toBe(
      `fastvision: 4 of 12 items of '${pets}' cannot be labelled:\n` +
        "  beagle_10.jpg: labelFunc returned undefined\n  beagle_11.jpg: labelFunc returned \" \"\n" +
        '  beagle_12.jpg: labelFunc returned " "\n  beagle_13.jpg: labelFunc returned " "\n' +
        '(labelFunc must return a non-empty string, or a list of strings for multi-label data)',
    );
    await expect(DataLoaders.fromPathFunc(pets, petNames, () => ({ breed: 'x' }) as never, opts)).rejects.toThrow('Abyssinian_1.jpg: labelFunc returned an object');
  });

  it('an empty list, a split that leaves validation empty, validPct out of range', async () => {
    await expect(DataLoaders.fromNameRe(pets, [], pat, opts)).rejects.toThrow(`there are no items to load from '${pets}'`);
    await expect(DataLoaders.fromNameRe(pets, petNames.slice(0, 4), pat, { ...opts, validPct: 0.2 })).rejects.toThrow(`validPct 0.2 leaves the validation set of '${pets}' empty (4 items)`);
    await expect(DataLoaders.fromNameRe(pets, petNames, pat, { ...opts, validPct: 1.5 })).rejects.toThrow('validPct must be a number in (0, 1), got 1.5');
  });
});

describe('getImageFiles (fastai’s get_image_files)', () => {
  it('finds image files recursively, sorted, as absolute paths', async () => {
    const files = await getImageFiles(imagenet);
    expect(files).toHaveLength(12);
    expect(files).toEqual([...files].sort());
    expect(files[0]).toBe(join(imagenet, 'test', 'cats', 'cats0.png'));
    writeFileSync(join(imagenet, 'train', 'notes.txt'), 'not an image');
    expect(await getImageFiles(imagenet)).toEqual(files);
    expect(await getImageFiles(imagenet, { folders: ['valid'] })).toEqual(files.filter((f) => f.includes(`${join(imagenet, 'valid')}`)));
    expect(await getImageFiles(relative(process.cwd(), imagenet))).toEqual(files);
  });

  it('a folder that is not there is an error naming it', async () => {
    mkdirSync(join(root, 'empty'), { recursive: true });
    await expect(getImageFiles(join(root, 'empty'), { folders: ['vlaid'] })).rejects.toThrow(/cannot read the image folder '.*empty.vlaid': it does not exist/);
  });
});
