import { z } from 'zod';
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

const channel = z.number().finite();
const stats = z
  .object({
    mean: z.tuple([channel, channel, channel]),
    std: z.tuple([channel.positive(), channel.positive(), channel.positive()]),
  })
  .strict();

const side = z.number().int().min(1).max(maxExportImageSide);
const pair = z.tuple([side, side]);
const method = z.enum(['squish', 'crop', 'pad']);
const padMode = z.enum(['reflection', 'zeros', 'border']);
const itemTfm = z.discriminatedUnion('type', [
  z.object({ type: z.literal('Resize'), size: pair, method, padMode, centred: z.boolean().optional() }).strict(),
  z.object({ type: z.literal('RandomResizedCrop'), size: pair, minScale: z.number().gt(0).max(1), ratio: z.tuple([z.number().positive(), z.number().positive()]), valXtra: z.number().min(0).max(4) }).strict(),
  z.object({ type: z.literal('RandomCrop'), size: pair }).strict(),
]);

const inference = {
  format: z.literal('fastvision-export'),
  library: z.string().max(64),
  arch: z.string().max(128).nullable(),
  vocab: z
    .array(z.string().min(1).max(1000))
    .min(1)
    .max(maxExportClasses)
    .refine((v) => new Set(v).size === v.length, { message: 'the class names must be unique' }),
  multiLabel: z.boolean(),
  resize: z
    .object({
      height: side,
      width: side,
      method,
      padMode,
    })
    .strict(),
  /** The item transforms, when more than `resize` (they run as on the validation set). */
  itemTfms: z.array(itemTfm).min(1).max(16).optional(),
  /** The batch size after the batch transforms, when they resize (presizing). */
  size: z.tuple([side, side]).optional(),
  normalize: stats.nullish(),
  /** Multi-label: the probability above which a class is predicted. */
  thresh: z.number().gt(0).lt(1).optional(),
  /** The layer groups, by layer name, so a loaded learner freezes and takes `slice` like the original. */
  layerGroups: z.array(z.array(z.string().max(256)).min(1).max(100_000)).min(1).max(1000).optional(),
};

/** fastvision 0.1's first layout: `model.json`, `weights.bin`, `fastvision.json`. */
const v1 = z.object({ ...inference, formatVersion: z.literal(1) }).strict();

/**
 * The layout written now: the model and weights under names that carry a hash of
 * their content (never rewritten, so a reader that read the metadata always finds the
 * files it names), with their sizes; `model.json` is a copy for plain tfjs loaders.
 */
const v2 = z
  .object({
    ...inference,
    formatVersion: z.literal(2),
    files: z.object({ model: z.string().regex(/^model\.[0-9a-f]{12}\.json$/), weights: z.string().regex(/^weights\.[0-9a-f]{12}\.bin$/) }).strict(),
    bytes: z.object({ model: z.number().int().nonnegative(), weights: z.number().int().nonnegative() }).strict(),
  })
  .strict();

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
  /** The topology and weights files this metadata belongs to. */
  files: { model: string; weights: string };
  /** Their sizes, checked before they are read. */
  bytes: { model: number; weights: number };
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
