// zod's tree-shakable build: the browser page bundles this schema too (the full build is ~450 kB there).
import * as z from 'zod/mini';
import { en } from 'zod/locales';
import { FastvisionError } from '../core/errors.js';
import { maxImageSide } from '../data/resize.js';
import type { ItemTransformConfig } from '../data/transforms/transform.js';

/**
 * The largest image side an export may ask for: {@link maxImageSide}. An export is a
 * stranger's file: a `resize` of 10000² made `predict` allocate gigabytes before it failed.
 */
export const maxExportImageSide = maxImageSide;

/** Most classes an export may name. */
export const maxExportClasses = 100_000;

// zod's mini build has no messages of its own; these are the full build's (the errors name what was expected).
z.config(en());

const channel = z.number();
const positive = z.number().check(z.positive());
const stats = z.strictObject({
  mean: z.tuple([channel, channel, channel]),
  std: z.tuple([positive, positive, positive]),
});

const side = z.int().check(z.minimum(1), z.maximum(maxExportImageSide));
const pair = z.tuple([side, side]);
const method = z.enum(['squish', 'crop', 'pad']);
const padMode = z.enum(['reflection', 'zeros', 'border']);
const itemTfm = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('Resize'), size: pair, method, padMode, centred: z.optional(z.boolean()) }),
  z.strictObject({ type: z.literal('RandomResizedCrop'), size: pair, minScale: z.number().check(z.gt(0), z.maximum(1)), ratio: z.tuple([positive, positive]), valXtra: z.number().check(z.minimum(0), z.maximum(4)) }),
  z.strictObject({ type: z.literal('RandomCrop'), size: pair }),
]);

const inference = {
  format: z.literal('fastvision-export'),
  library: z.string().check(z.maxLength(64)),
  arch: z.nullable(z.string().check(z.maxLength(128))),
  vocab: z.array(z.string().check(z.minLength(1), z.maxLength(1000))).check(
    z.minLength(1),
    z.maxLength(maxExportClasses),
    z.refine((v) => new Set(v).size === v.length, { message: 'the class names must be unique' }),
  ),
  multiLabel: z.boolean(),
  resize: z.strictObject({ height: side, width: side, method, padMode }),
  /** The item transforms, when more than `resize` (they run as on the validation set). */
  itemTfms: z.optional(z.array(itemTfm).check(z.minLength(1), z.maxLength(16))),
  /** The batch size after the batch transforms, when they resize (presizing). */
  size: z.optional(z.tuple([side, side])),
  normalize: z.nullish(stats),
  /** Multi-label: the probability above which a class is predicted. */
  thresh: z.optional(z.number().check(z.gt(0), z.lt(1))),
  /** The layer groups, by layer name, so a loaded learner freezes and takes `slice` like the original. */
  layerGroups: z.optional(z.array(z.array(z.string().check(z.maxLength(256))).check(z.minLength(1), z.maxLength(100_000))).check(z.minLength(1), z.maxLength(1000))),
};

/** fastvision 0.1's first layout: `model.json`, `weights.bin`, `fastvision.json`. */
const v1 = z.strictObject({ ...inference, formatVersion: z.literal(1) });

/**
 * The layout written now: the model and weights under names that carry a hash of
 * their content (never rewritten, so a reader that read the metadata always finds the
 * files it names), with their sizes; `model.json` is a copy for plain tfjs loaders.
 */
const count = z.int().check(z.minimum(0));
const v2 = z.strictObject({
  ...inference,
  formatVersion: z.literal(2),
  files: z.strictObject({
    model: z.string().check(z.regex(/^model\.[0-9a-f]{12}\.json$/)),
    weights: z.string().check(z.regex(/^weights\.[0-9a-f]{12}\.bin$/)),
    onnx: z.optional(z.literal('model.onnx')),
  }),
  bytes: z.strictObject({ model: count, weights: count, onnx: z.optional(count) }),
});

const schema = z.discriminatedUnion('formatVersion', [v1, v2]);

/** The `fastvision.json` of an export (layout version 2). */
export interface ExportMeta {
  /** Always `'fastvision-export'`. */
  format: 'fastvision-export';
  /** The layout: 2 (content-named files); 1 was fastvision 0.1's. */
  formatVersion: 2;
  /** The fastvision version that wrote it. */
  library: string;
  /** The architecture's name, or null for a custom model. */
  arch: string | null;
  /** Class names, in the model's output order. */
  vocab: string[];
  /** Sigmoid per class (multi-label) rather than softmax. */
  multiLabel: boolean;
  /** How images are sized. */
  resize: { height: number; width: number; method: 'squish' | 'crop' | 'pad'; padMode: 'reflection' | 'zeros' | 'border' };
  /** The item transforms when there is more than `resize`, as data (run as on the validation set). */
  itemTfms?: ItemTransformConfig[] | undefined;
  /** The batch size after the batch transforms, when they resize: a bilinear resize with corners aligned. */
  size?: [number, number] | undefined;
  /** Normalisation after scaling pixels to [0, 1], or none. */
  normalize?: { mean: [number, number, number]; std: [number, number, number] } | null | undefined;
  /** Multi-label: the probability above which a class is predicted. */
  thresh?: number | undefined;
  /** The layer groups, earliest first, by layer name. */
  layerGroups?: string[][] | undefined;
  /** The topology and weights files this metadata belongs to, and the ONNX model (for ONNX Runtime anywhere) when it was written. */
  files: { model: string; weights: string; onnx?: 'model.onnx' | undefined };
  /** Their sizes, checked before they are read. */
  bytes: { model: number; weights: number; onnx?: number | undefined };
}

/** Any readable `fastvision.json`, old layout included. */
export type AnyExportMeta = z.infer<typeof schema>;

/**
 * Checks `fastvision.json` against the export schema: every field's type, range and
 * length, class names unique strings, the image size at most {@link maxExportImageSide}.
 * Throws one error listing every problem, naming the file.
 *
 * @param json - The parsed file.
 * @param file - Its path, for the message.
 */
export function validateExportMeta(json: unknown, file: string): AnyExportMeta {
  if (json && typeof json === 'object' && (json as { format?: unknown }).format !== 'fastvision-export') {
    throw new FastvisionError('BAD_FILE', `'${file}' is not fastvision export metadata (its "format" is ${JSON.stringify((json as { format?: unknown }).format)})`);
  }
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 12).map((i) => `${i.path.length ? i.path.join('.') : '(file)'}: ${i.message}`);
  throw new FastvisionError('BAD_FILE', `'${file}' is not valid export metadata:\n  ${problems.join('\n  ')}`);
}

/** Whether parsed JSON is (claims to be) fastvision's export metadata. */
export function looksLikeExportMeta(json: unknown): boolean {
  return !!json && typeof json === 'object' && (json as { format?: unknown }).format === 'fastvision-export';
}
