import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '../../src/core/tf.js';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { CSVLogger, DataLoaders, FastvisionError, ImageCache, Learner, SaveModelCallback, initBackend, readCsv, visionLearner } from '../../src/index.js';
import { cachedFetch } from '../../src/core/download.js';
import { startHub } from '../helpers/hubServer.js';
import { runCli } from '../helpers/cli.js';
import { tempDir, writeImage } from '../helpers/images.js';
import { writePatterns } from '../helpers/patterns.js';

let data: Awaited<ReturnType<typeof writePatterns>>;

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  data = await writePatterns(16);
});

function tinyBody() {
  const input = tf.input({ shape: [null, null, 3] });
  const x = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, name: 'c' }).apply(input) as tf.SymbolicTensor;
  return { model: tf.model({ inputs: input, outputs: x }), groups: [] as tf.layers.Layer[][] };
}

async function tinyLearner(opts: { path?: string } = {}) {
  const dls = await DataLoaders.fromDataFrame(data.rows, { path: opts.path ?? data.dir, size: 16, bs: 4, seed: 1 });
  const { fromLayersModel } = await import('../../src/index.js');
  const body = fromLayersModel(tinyBody().model, { cut: 'c', normalize: { mean: [0, 0, 0], std: [1, 1, 1] } });
  return visionLearner(dls, body, { ps: 0, logger: () => {} });
}

describe('checkpoints on disk', () => {
  it('SaveModelCallback writes models/<fname>.safetensors at each improvement: a run killed after epoch 2 leaves its best on disk', () => {
    const script = join(import.meta.dirname, 'fixtures', 'saveAndDie.ts');
    const r = spawnSync(join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'tsx'), [script, data.dir], { encoding: 'utf8', env: { ...process.env, FASTVISION_BACKEND: 'wasm' } });
    expect(r.signal === 'SIGKILL' || r.status === 137, r.stderr).toBe(true);
    expect(r.stdout).toMatch(/epoch 2 done/);
    const file = join(data.dir, 'models', 'best.safetensors');
    expect(existsSync(file)).toBe(true);
    expect(readdirSync(join(data.dir, 'models')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 120_000);

  it('everyEpoch saves <fname>_<epoch>; learn.load checks everything before it touches a weight', async () => {
    const learn = await tinyLearner();
    await learn.fit(2, 1e-3, { cbs: [new SaveModelCallback({ fname: 'each', everyEpoch: true, withOpt: true })] });
    expect(readdirSync(join(learn.path, 'models')).filter((f) => f.startsWith('each_')).sort()).toEqual(['each_0.safetensors', 'each_1.safetensors']);
    const file = join(learn.path, 'models', 'each_1.safetensors');
    const bytes = readFileSync(file);
    // Corrupt metadata (the 'hypers' JSON), keeping the file a valid safetensors file of the same length.
    const n = Number(bytes.readBigUInt64LE(0));
    const header = bytes.subarray(8, 8 + n).toString('utf8');
    const broken = header.replace(/"hypers":"\[/, '"hypers":"{');
    expect(broken).not.toBe(header);
    writeFileSync(join(learn.path, 'models', 'broken.safetensors'), Buffer.concat([bytes.subarray(0, 8), Buffer.from(broken), bytes.subarray(8 + n)]));
    const before = learn.model.weights.map((w) => Array.from(w.read().dataSync()));
    learn.model.weights.forEach((w) => w.write(tf.zerosLike(w.read())));
    const zeros = learn.model.weights.map((w) => Array.from(w.read().dataSync()));
    await expect(learn.load('broken')).rejects.toThrow(/broken\.safetensors' has corrupt metadata .*; the learner is unchanged/);
    expect(learn.model.weights.map((w) => Array.from(w.read().dataSync()))).toEqual(zeros);
    await learn.load('each_1');
    expect(learn.model.weights.map((w) => Array.from(w.read().dataSync()))).not.toEqual(zeros);
    expect(before.length).toBe(zeros.length);
  });
});

describe('errors a user can fix are FastvisionErrors with a code, and say what to do', () => {
  it('a Latin-1 CSV is an error naming its first non-UTF-8 line (café and cafè would merge)', async () => {
    const file = join(tempDir(), 'labels.csv');
    writeFileSync(file, Buffer.concat([Buffer.from('fn,label\na.png,dog\nb.png,caf'), Buffer.from([0xe9]), Buffer.from('\nc.png,caf'), Buffer.from([0xe8]), Buffer.from('\n')]));
    await expect(readCsv(file)).rejects.toThrow(/CSV '.*labels\.csv' is not UTF-8 \(line 3 is not\)/);
  });

  it('duplicate header names are an error naming both columns', async () => {
    const file = join(tempDir(), 'labels.csv');
    writeFileSync(file, 'fn,label,label\na.png,dog,cat\n');
    await expect(readCsv(file)).rejects.toThrow(/has the column name 'label' twice \(columns 2 and 3\)/);
  });

  it('a null row in a data frame names the row', async () => {
    const err = await DataLoaders.fromDataFrame([data.rows[0]!, null as never], { path: data.dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FastvisionError);
    expect((err as Error).message).toMatch(/row 2 of the table is null; every row must be an object/);
  });

  it('an export into a path that runs through a file is an IO error naming the path', async () => {
    const learn = await tinyLearner();
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'x');
    const err = await learn.export(join(file, 'model')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'IO' });
    expect((err as Error).message).toMatch(/cannot (export to|create the export folder) '.*a-file\/model': a part of the path is a file, not a folder \(ENOTDIR\)/);
  });

  it('a CSVLogger that cannot write is a FastvisionError; an image cache folder that cannot be written is a warning, and training goes on', async () => {
    const blocker = join(tempDir(), 'blocker');
    writeFileSync(blocker, 'x');
    const learn = await tinyLearner();
    await expect(learn.fit(1, 1e-3, { cbs: [new CSVLogger(join(blocker, 'history.csv'))] })).rejects.toThrow(FastvisionError);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const dls = await DataLoaders.fromDataFrame(data.rows, { path: data.dir, size: 16, bs: 4, seed: 1, cache: new ImageCache({ dir: join(blocker, 'cache') }) });
    const batch = await dls.train.oneBatch();
    tf.dispose([batch.x, batch.y]);
    expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringMatching(/cannot (write|create the folder of) '.*blocker\/cache.*'.*; the image cache goes on in memory only/)]);
    warn.mockRestore();
  });

  it('killed downloads leave no .part files behind for the next one', async () => {
    const cache = tempDir();
    const file = join(cache, 'w.bin');
    writeFileSync(`${file}.999999.1700000000000.part`, 'half'); // a pid that is not running
    const hub = await startHub({ '/w.bin': { body: new Uint8Array([1, 2, 3]) } });
    try {
      await cachedFetch({ url: `${hub.url}/w.bin`, file }, { progress: false, offline: false });
    } finally {
      await hub.close();
    }
    expect(readdirSync(cache)).toEqual(['w.bin']);
  });
});

describe('the CLI: exit 1 and one line for what the user can fix', () => {
  let model: string;
  beforeAll(async () => {
    const learn = await tinyLearner();
    model = join(tempDir(), 'model');
    await learn.export(model);
  });

  it('a tampered export (an unknown layer) is one line, no stack trace', () => {
    const tampered = join(tempDir(), 'tampered');
    mkdirSync(tampered);
    for (const f of readdirSync(model)) writeFileSync(join(tampered, f), readFileSync(join(model, f)));
    const meta = JSON.parse(readFileSync(join(tampered, 'fastvision.json'), 'utf8'));
    const text = readFileSync(join(tampered, meta.files.model), 'utf8').replace('"Conv2D"', '"Evil"');
    writeFileSync(join(tampered, meta.files.model), text);
    writeFileSync(join(tampered, 'fastvision.json'), JSON.stringify({ ...meta, bytes: { ...meta.bytes, model: Buffer.byteLength(text) } }));
    const r = runCli(['predict', '--model', tampered, join(data.dir, data.rows[0]!.fn)]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^fastvision: '.*' does not describe a model fastvision can build: .*Evil/)]);
  });

  it('train --out <an existing file> fails before training', () => {
    const file = join(tempDir(), 'out.txt');
    writeFileSync(file, 'mine');
    const csv = join(data.dir, 'labels.csv');
    writeFileSync(csv, `fn,label\n${data.rows.map((r) => `${r.fn},${r.label}`).join('\n')}\n`);
    const t0 = performance.now();
    const r = runCli(['train', '--csv', csv, '--out', file, '--pretrained', 'false', '--size', '16']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--out .*out\.txt: it is a file, not a folder/);
    expect(r.stdout).not.toMatch(/epoch/);
    expect(readFileSync(file, 'utf8')).toBe('mine');
    expect(performance.now() - t0).toBeLessThan(60_000);
  });

  it('--size 99999 names the option, not an image', () => {
    const csv = join(data.dir, 'labels.csv');
    const r = runCli(['train', '--csv', csv, '--out', join(tempDir(), 'o'), '--pretrained', 'false', '--size', '99999']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/size must be a whole number from 1 to 2048/);
  });

  it('predict takes a folder, and --skip-bad leaves out (and lists) images it cannot decode', async () => {
    const folder = join(tempDir(), 'covers');
    mkdirSync(folder);
    await writeImage(join(folder, 'a.png'), { color: [200, 10, 10] });
    await writeImage(join(folder, 'b.png'), { color: [10, 10, 200] });
    writeFileSync(join(folder, 'broken.jpg'), 'not an image');
    const strict = runCli(['predict', '--model', model, folder]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/cannot decode image '.*broken\.jpg'/);
    const r = runCli(['predict', '--model', model, '--skip-bad', folder]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l).file.split('/').pop())).toEqual(['a.png', 'b.png']);
    expect(r.stderr).toMatch(/skipped '.*broken\.jpg': /);
    expect(r.stderr).toMatch(/skipped 1 of 3 images that could not be decoded/);
  });
});
