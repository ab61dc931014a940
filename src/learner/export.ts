import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import * as tf from '../core/tf.js';
import { writeFileAtomic } from '../core/atomicWrite.js';
import { FastvisionError, osError } from '../core/errors.js';
import { readRegularFile } from '../core/safeRead.js';
import { ensureBackend } from '../engine/backend.js';
import { toOnnx } from '../engine/onnx/index.js';
import { seedSession } from '../engine/ort/ortInference.js';
import { version } from '../version.js';
import { looksLikeExportMeta, validateExportMeta, type AnyExportMeta, type ExportMeta } from './exportFormat.js';
import { Learner } from './learner.js';

export type { ExportMeta } from './exportFormat.js';

/** Size limits of what an export's files may claim. */
const limits = { meta: 1 << 20, model: 64 << 20, weights: 4 * 1024 ** 3 };

/** Files fastvision writes into an export folder: what it may clean up there, and nothing else. */
const ownFile = /^(model\.[0-9a-f]{12}\.json|weights\.[0-9a-f]{12}\.bin|\.fastvision-[^/]*\.tmp)$/;

/** A tfjs `model.json`: the parts fastvision writes and reads. */
interface ModelJson {
  format?: string;
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/**
 * Writes a learner's model and metadata into `dir` (fastai's `learn.export`).
 *
 * Safe to write: `dir` may be new, empty, or an earlier fastvision export; anything
 * else (a file, a folder with other things in it) is refused, so an export never
 * deletes what fastvision did not write. Replacing an export is crash-safe: the model
 * and weights go to new files named by a hash of their content, then `model.json` and
 * last `fastvision.json` are swapped in by atomic renames, so at every instant the
 * folder holds the old or the new export, complete. Files of older exports (and of
 * killed writes) are removed at the next export; the one before stays for readers
 * that were mid-load.
 */
export async function exportLearner(learn: Learner, dirArg: string): Promise<string> {
  const custom = learn.dataLoadersOrUndefined?.itemTfms.filter((t) => !t.config) ?? [];
  if (custom.length) {
    throw new FastvisionError('BAD_OPTION', `cannot export: the item transform(s) ${custom.map((t) => `'${t.name}'`).join(', ')} have no config, so a loaded model could not preprocess as the validation set did (give each a config, or export with fastvision's Resize/RandomResizedCrop/RandomCrop)`);
  }
  const dir = resolve(dirArg);
  const current = await prepareExportDir(dir, dirArg);
  await cleanExportDir(dir, current);
  const { modelTopology, weightSpecs, weightData } = await modelArtifacts(learn.model);
  const id = createHash('sha256').update(JSON.stringify(modelTopology)).update(weightData).digest('hex').slice(0, 12);
  const files = { model: `model.${id}.json`, weights: `weights.${id}.bin` };
  const modelJson: ModelJson & { generatedBy: string; convertedBy: null } = {
    format: 'layers-model',
    generatedBy: `fastvision ${version}`,
    convertedBy: null,
    modelTopology,
    weightsManifest: [{ paths: [files.weights], weights: weightSpecs }],
  };
  const modelText = JSON.stringify(modelJson);
  const meta: ExportMeta = {
    format: 'fastvision-export',
    formatVersion: 2,
    library: version,
    arch: learn.arch ?? null,
    ...learn.inferenceConfig,
    layerGroups: learn.layerGroups.map((g) => g.map((l) => l.name)),
    files,
    bytes: { model: Buffer.byteLength(modelText), weights: weightData.byteLength },
  };
  const onnx = await onnxOf(learn, meta);
  if (onnx) {
    meta.files.onnx = 'model.onnx';
    meta.bytes.onnx = onnx.byteLength;
  }
  const write = (name: string, data: Uint8Array | string) => writeFileAtomic(join(dir, name), data, `.fastvision-${name}`);
  await write(files.weights, weightData);
  await write(files.model, modelText);
  await write('model.json', modelText); // what plain tfjs loads
  // What ONNX Runtime loads anywhere: self-contained, so one stable name (not hashed) will do.
  if (onnx) await write('model.onnx', onnx);
  await write('fastvision.json', `${JSON.stringify(meta, null, 2)}\n`); // last: the switch to the new export
  // An older export's model.onnx must not outlive it (fastvision wrote it: its metadata listed it).
  if (!onnx && current?.formatVersion === 2 && current.files.onnx) await rm(join(dir, 'model.onnx'), { force: true });
  return dirArg;
}

/**
 * The model as ONNX, with the preprocessing it expects in its metadata (the same fields
 * as fastvision.json), or undefined with one line when a layer has no ONNX form.
 */
async function onnxOf(learn: Learner, meta: ExportMeta): Promise<Uint8Array | undefined> {
  const { vocab, multiLabel, resize, itemTfms, size, normalize, thresh } = meta;
  try {
    return await toOnnx(learn.model, {
      docString: `fastvision ${version} export${learn.arch ? ` (${learn.arch})` : ''}: NHWC float32 input, logits out`,
      metadata: { fastvision: JSON.stringify({ vocab, multiLabel, resize, itemTfms, size, normalize, thresh, input: 'NHWC float32, pixels/255 then normalize', output: multiLabel ? 'logits (sigmoid per class)' : 'logits (softmax)' }) },
    });
  } catch (err) {
    if (!(err instanceof FastvisionError)) throw err;
    console.warn(`fastvision: export without model.onnx: ${err.message}`);
    return undefined;
  }
}

/** Checks that `dir` may receive an export; returns its current metadata, if it holds one. */
async function prepareExportDir(dir: string, shown: string): Promise<AnyExportMeta | undefined> {
  const st = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw osError(err, 'export to', shown);
  });
  if (!st) {
    await mkdir(dir, { recursive: true }).catch((err) => {
      throw osError(err, 'create the export folder', shown);
    });
    return undefined;
  }
  if (!st.isDirectory()) throw new FastvisionError('UNSAFE_PATH', `cannot export to '${shown}': it is a file, not a folder; export to a new or empty folder`);
  const entries = await readdir(dir).catch((err) => {
    throw osError(err, 'list the export folder', shown);
  });
  if (entries.length === 0) return undefined;
  const meta = entries.includes('fastvision.json') ? await readExportMeta(dir).catch(() => undefined) : undefined;
  if (!meta) {
    const listed = entries.slice(0, 5).join(', ') + (entries.length > 5 ? ', …' : '');
    throw new FastvisionError(
      'UNSAFE_PATH',
      `cannot export to '${shown}': the folder is not empty and is not a fastvision export (it holds ${listed}); ` +
        'export to a new or empty folder (fastvision never deletes what it did not write)',
    );
  }
  return meta;
}

/**
 * Removes fastvision's own files that no entry point references any more: older
 * versions and leftovers of killed writes (here, and `<dir>.tmp-*` / `<dir>.old-*`
 * folders of fastvision 0.1's writer). The current version stays.
 */
async function cleanExportDir(dir: string, current: AnyExportMeta | undefined): Promise<void> {
  const keep = new Set<string>();
  if (current?.formatVersion === 2) keep.add(current.files.model).add(current.files.weights);
  try {
    const modelJson = JSON.parse((await readRegularFile(join(dir, 'model.json'), { maxBytes: limits.model, what: 'model.json' })).toString('utf8')) as ModelJson;
    for (const g of modelJson.weightsManifest ?? []) for (const p of g.paths ?? []) keep.add(p);
  } catch {
    // no model.json (or a broken one): nothing of it to keep
  }
  for (const name of await readdir(dir)) {
    if (ownFile.test(name) && !keep.has(name)) await rm(join(dir, name), { force: true });
    if (name === 'weights.bin' && current?.formatVersion === 2 && !keep.has(name)) await rm(join(dir, name), { force: true });
  }
  const parent = dirname(dir);
  const legacy = new RegExp(`^${basename(dir).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(tmp|old)-\\d+-\\d+$`);
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    if (!legacy.test(name)) continue;
    const inside = await readdir(join(parent, name)).catch(() => ['?']);
    if (inside.every((f) => ['model.json', 'weights.bin', 'fastvision.json'].includes(f))) await rm(join(parent, name), { recursive: true, force: true });
  }
}

/** The model's topology and weights, as tfjs would save them, in memory. */
async function modelArtifacts(model: tf.LayersModel): Promise<{ modelTopology: object; weightSpecs: tf.io.WeightsManifestEntry[]; weightData: Buffer }> {
  let out: { modelTopology: object; weightSpecs: tf.io.WeightsManifestEntry[]; weightData: Buffer } | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const parts = artifacts.weightData instanceof ArrayBuffer ? [artifacts.weightData] : ((artifacts.weightData as ArrayBuffer[] | undefined) ?? []);
      out = { modelTopology: artifacts.modelTopology as object, weightSpecs: artifacts.weightSpecs ?? [], weightData: Buffer.concat(parts.map((w) => Buffer.from(w))) };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return out!;
}

/** Reads and validates `dir/fastvision.json`. */
async function readExportMeta(dir: string): Promise<AnyExportMeta> {
  const file = join(dir, 'fastvision.json');
  const bytes = await readRegularFile(file, { maxBytes: limits.meta, what: 'export metadata' });
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new FastvisionError('BAD_FILE', `'${file}' is not JSON: ${(err as Error).message}`, { cause: err });
  }
  return validateExportMeta(json, file);
}

/** Options of {@link loadLearner}. */
export interface LoadLearnerOptions {
  /** Progress bars (plain lines off a terminal) of the learner's `predictMany`, `getPreds`, `tta`. Default true. */
  progress?: boolean;
}

/**
 * A learner from an export directory, ready to `predict` and `getPreds` without the
 * training data (fastai's `load_learner`).
 *
 * Reading is bounded and checked: only regular files are read (a FIFO, a device or a
 * folder in their place is refused), each file's size is checked against the
 * metadata before it is read, every field of `fastvision.json` is validated (types,
 * ranges, unique class names, an image size of at most 2048 px), weights must be
 * float32 and finite (quantized weights are refused). Nothing in an export is
 * executed: it is JSON and raw numbers.
 *
 * @param dirArg - A directory written by `learn.export()` (or `fastvision train`).
 * @param opts - `progress: false` silences the learner's progress bars.
 *
 * @example
 * ```ts
 * const learn = await loadLearner('models/metal-rap');
 * const { label, probs } = await learn.predict('cover.jpg');
 * ```
 */
export async function loadLearner(dirArg: string, opts: LoadLearnerOptions = {}): Promise<Learner> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await loadOnce(dirArg, opts);
    } catch (err) {
      // A writer replaced the export twice while we read it (the version before the current
      // one stays, not older ones): the files its metadata named are gone; read the new one.
      const replaced = err instanceof FastvisionError && err.code === 'BAD_FILE' && / is missing$/.test(err.message) && !err.message.includes('fastvision.json');
      if (!replaced || attempt === 5) throw err;
    }
  }
}

async function loadOnce(dirArg: string, opts: LoadLearnerOptions): Promise<Learner> {
  await ensureBackend();
  const dir = resolve(dirArg);
  const st = await lstat(dir).catch(() => undefined);
  if (!st) throw new FastvisionError('BAD_FILE', `'${dirArg}' is not a fastvision export: the folder does not exist`);
  const meta = await readExportMeta(dir).catch((err: FastvisionError) => {
    if (/export metadata '.*' is missing/.test(err.message)) throw new FastvisionError('BAD_FILE', `'${dirArg}' is not a fastvision export: fastvision.json is missing`);
    throw err;
  });
  const files = meta.formatVersion === 2 ? meta.files : { model: 'model.json', weights: 'weights.bin' };
  const modelFile = join(dir, files.model);
  const modelBytes = await readRegularFile(modelFile, { maxBytes: limits.model, what: 'model topology', ...(meta.formatVersion === 2 ? { bytes: meta.bytes.model } : {}) });
  const modelJson = parseModelJson(modelBytes, modelFile, files.weights);
  const specs = modelJson.weightsManifest.flatMap((g) => g.weights);
  const expected = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (meta.formatVersion === 2 && meta.bytes.weights !== expected) {
    throw new FastvisionError('BAD_FILE', `'${dir}/fastvision.json' says the weights have ${meta.bytes.weights} bytes; '${modelFile}' describes ${expected}`);
  }
  const weights = await readRegularFile(join(dir, files.weights), { maxBytes: limits.weights, bytes: expected, what: 'weights' });
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs: specs, weightData }));
  } catch (err) {
    throw new FastvisionError('BAD_FILE', `'${modelFile}' does not describe a model fastvision can build: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  try {
    await checkFinite(model, join(dir, files.weights));
    const units = model.outputs[0]!.shape.at(-1);
    if (units !== meta.vocab.length) {
      throw new FastvisionError('BAD_FILE', `'${dirArg}' is mismatched: the model has ${units} outputs but the vocab has ${meta.vocab.length} classes`);
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  if (meta.formatVersion === 2 && meta.files.onnx) await preferOnnx(model, join(dir, meta.files.onnx), meta.bytes.onnx);
  const { vocab, multiLabel, resize, normalize, thresh, itemTfms, size } = meta;
  const layerGroups = meta.layerGroups ? groupsByName(model, meta.layerGroups, join(dir, 'fastvision.json')) : undefined;
  return new Learner(undefined, model, {
    inference: { vocab, multiLabel, resize, ...(itemTfms ? { itemTfms } : {}), ...(size ? { size } : {}), normalize: normalize ?? undefined, ...(thresh !== undefined ? { thresh } : {}) },
    ...(layerGroups ? { layerGroups } : {}),
    ...(meta.arch ? { arch: meta.arch } : {}),
    ...(opts.progress !== undefined ? { progress: opts.progress } : {}),
  });
}

/**
 * Inference of a loaded model starts from the export's model.onnx (no conversion). A
 * model.onnx of another size (an export being replaced meanwhile) is passed over: the
 * model converts itself.
 */
async function preferOnnx(model: tf.LayersModel, file: string, bytes: number | undefined): Promise<void> {
  const onnx = await readRegularFile(file, { maxBytes: limits.weights, ...(bytes != null ? { bytes } : {}), what: 'ONNX model' }).catch(() => undefined);
  if (onnx) seedSession(model, onnx);
}

/** The export's layer groups as the loaded model's layers; every name must be a layer, none twice. */
function groupsByName(model: tf.LayersModel, names: string[][], file: string): tf.layers.Layer[][] {
  const byName = new Map(model.layers.map((l) => [l.name, l]));
  const seen = new Set<string>();
  return names.map((group, i) =>
    group.map((name) => {
      const layer = byName.get(name);
      if (!layer) throw new FastvisionError('BAD_FILE', `'${file}' puts layer '${name}' in group ${i}, but the model has no such layer`);
      if (seen.has(name)) throw new FastvisionError('BAD_FILE', `'${file}' puts layer '${name}' in two layer groups`);
      seen.add(name);
      return layer;
    }),
  );
}

/** A tfjs model.json, checked for what fastvision relies on: float32 weights, unquantized, in the expected file. */
function parseModelJson(bytes: Buffer, file: string, weightsFile: string): ModelJson {
  let json: ModelJson;
  try {
    json = JSON.parse(bytes.toString('utf8')) as ModelJson;
  } catch (err) {
    throw new FastvisionError('BAD_FILE', `'${file}' is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const fail = (why: string): never => {
    throw new FastvisionError('BAD_FILE', `'${file}' is not a tfjs model fastvision can load: ${why}`);
  };
  if (!json || typeof json !== 'object' || typeof json.modelTopology !== 'object' || !Array.isArray(json.weightsManifest)) fail('it needs a modelTopology and a weightsManifest');
  for (const group of json.weightsManifest) {
    if (!Array.isArray(group?.weights) || !Array.isArray(group.paths)) fail('a weightsManifest entry lacks paths or weights');
    if (group.paths.some((p) => p !== weightsFile)) fail(`its weights are in ${JSON.stringify(group.paths)}, not '${weightsFile}'`);
    for (const w of group.weights) {
      if (typeof w?.name !== 'string' || !Array.isArray(w.shape) || !w.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`weight ${JSON.stringify(w?.name)} has no valid shape`);
      if ((w as { quantization?: unknown }).quantization) fail(`weight '${w.name}' is quantized (${JSON.stringify((w as { quantization?: unknown }).quantization)}); fastvision reads float32 weights only: export without quantization`);
      if (w.dtype !== 'float32') fail(`weight '${w.name}' has dtype ${JSON.stringify(w.dtype)}; fastvision reads float32 weights only`);
    }
  }
  return json;
}

/** Refuses weights that are NaN or infinite: they would load, then predict nothing. */
async function checkFinite(model: tf.LayersModel, file: string): Promise<void> {
  const finite = model.weights.map((w) => tf.tidy(() => tf.all(tf.isFinite(w.read()))));
  const flags = await Promise.all(finite.map((t) => t.data()));
  tf.dispose(finite);
  const bad = model.weights.filter((_, i) => !flags[i]![0]);
  if (bad.length) {
    throw new FastvisionError('BAD_FILE', `'${file}' holds NaN or infinite values (in ${bad.slice(0, 5).map((w) => w.originalName).join(', ')}${bad.length > 5 ? ', …' : ''})`);
  }
}

/**
 * Whether `dir` holds a fastvision export: what `learn.export(dir)` may replace.
 *
 * @param dir - A folder.
 *
 * @example
 * ```ts
 * if (!(await isExportDir('models/cats'))) console.log('export would create a new folder, or refuse a foreign one');
 * ```
 */
export async function isExportDir(dir: string): Promise<boolean> {
  try {
    const bytes = await readRegularFile(join(dir, 'fastvision.json'), { maxBytes: limits.meta, what: 'export metadata' });
    return looksLikeExportMeta(JSON.parse(bytes.toString('utf8')));
  } catch {
    return false;
  }
}
