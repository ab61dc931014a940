/**
 * A fastvision export as a classifier in a web page: its metadata checked as `loadLearner`
 * checks it, its model loaded by plain tfjs, predictions as `learn.predict` gives them.
 */
import type * as tfc from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { validateExportMeta, type AnyExportMeta } from '../learner/exportFormat.js';
import { preprocess, rgbPixels, type PreprocessTf, type RawImage } from './preprocess.js';

/** The tfjs functions a browser classifier uses: pass the page's `tf` (`@tensorflow/tfjs`, or tfjs-core + tfjs-layers). */
export type BrowserTf = PreprocessTf & Pick<typeof tfc, 'softmax' | 'sigmoid'> & Pick<typeof tfl, 'loadLayersModel'>;

/** One class and its probability. */
export interface ClassScore {
  label: string;
  prob: number;
}

/** What {@link loadClassifier} returns. */
export interface Classifier {
  /** The export's `fastvision.json`, checked. */
  readonly meta: AnyExportMeta;
  /** The tfjs model (outputs logits; {@link Classifier.classify} applies softmax or sigmoid). */
  readonly model: tfl.LayersModel;
  /**
   * Every class with its probability, most probable first, for one decoded image.
   * Multi-label exports score each class on its own (sigmoid); `meta.thresh` says which count.
   */
  classify(image: RawImage): Promise<ClassScore[]>;
  /** Frees the model's weights. */
  dispose(): void;
}

/**
 * Loads a fastvision export from a URL (a folder with `fastvision.json` and `model.json`)
 * with the page's tfjs.
 *
 * @param tf - The page's tfjs (`window.tf` from the script tags, or an import).
 * @param url - The export folder's URL, e.g. `'./model/'`.
 * @param fetchImpl - How to fetch `fastvision.json`. Default the global `fetch`.
 * @returns The classifier.
 * @throws A `FastvisionError` naming the field when `fastvision.json` is not a valid export.
 *
 * @example
 * ```ts
 * const clf = await loadClassifier(tf, './model/');
 * const top = (await clf.classify(ctx.getImageData(0, 0, w, h)))[0];   // { label: 'metal', prob: 0.93 }
 * ```
 */
export async function loadClassifier(tf: BrowserTf, url: string, fetchImpl: typeof fetch = fetch): Promise<Classifier> {
  const base = url.endsWith('/') ? url : `${url}/`;
  const metaUrl = `${base}fastvision.json`;
  const res = await fetchImpl(metaUrl);
  if (!res.ok) throw new Error(`fastvision: ${metaUrl} answered ${res.status} ${res.statusText}: is this a fastvision export folder?`);
  const meta = validateExportMeta(await res.json(), metaUrl);
  const model = await tf.loadLayersModel(`${base}model.json`);
  return {
    meta,
    model,
    async classify(image) {
      const probs = tf.tidy(() => {
        const logits = model.predict(preprocess(tf, rgbPixels(image), meta)) as tfc.Tensor;
        return meta.multiLabel ? tf.sigmoid(logits) : tf.softmax(logits);
      });
      const values = await probs.data();
      probs.dispose();
      return meta.vocab.map((label, i) => ({ label, prob: values[i]! })).sort((a, b) => b.prob - a.prob);
    },
    dispose: () => model.dispose(),
  };
}
