import { BnFreeze } from './bnFreeze.js';
import { Callback } from './callback.js';
import type { FeatureCache } from './featureCache.js';
import type { DataLoader } from '../data/dataLoader.js';

/**
 * Decides, at the start of each fit, whether the learner can train only the head on
 * cached body features — the body is frozen, its BatchNorm weights do not train
 * (`trainBn: false`) and run on their running statistics (`BnFreeze`), no random
 * layer sits before the head — and if so hands the learner the body/head split for
 * this fit. When the body is frozen but not a fixed function of the image it says
 * why, once per reason. Every Learner with a feature cache has one.
 */
export class FeatureCacheCallback extends Callback {
  // Before every other callback: the split decides what the batches are.
  override order = -100;
  private readonly noticesShown = new Set<string>();

  constructor(private readonly cache: FeatureCache) {
    super();
  }

  override beforeFit(): void {
    const learn = this.learn;
    learn.cachedSplit = undefined;
    if (learn.frozenGroups !== learn.nGroups - 1) return;
    const train = learn.dataLoadersOrUndefined?.train;
    if (train?.isRandom) {
      // The body would see new pixels every epoch: cached features would train the head on un-augmented images.
      return this.notice(`random transforms change the training images every epoch (${randomTfms(train).join(', ')})`, 'Augmentation usually pays for the slower frozen epochs; without random train transforms (e.g. the size option alone) the head trains on features computed once');
    }
    const plan = learn.trainBn
      ? "the frozen body's BatchNorm weights train (trainBn: true)"
      : !learn.callbacks.some((cb) => cb instanceof BnFreeze)
        ? "the frozen body's BatchNorm uses batch statistics (no BnFreeze callback)"
        : this.cache.splitFor(learn.model, learn.layerGroups.at(-1)!);
    if (typeof plan === 'string') return this.notice(plan, 'With { trainBn: false, cbs: [new BnFreeze()] } a frozen fit trains only the head, on features computed once');
    this.cache.sync(plan.body, JSON.stringify(learn.dataLoadersOrUndefined?.normalize ?? null));
    learn.cachedSplit = plan;
  }

  /** Says once per reason why features are not cached. */
  private notice(reason: string, hint: string): void {
    if (this.learn.quiet || this.noticesShown.has(reason)) return;
    this.noticesShown.add(reason);
    this.learn.logger(`fastvision: not caching body features: ${reason}. ${hint} (featureCache: false hides this).`);
  }

  override afterFit(): void {
    this.learn.cachedSplit = undefined;
  }
}

/** Names of the transforms that draw random numbers on this loader. */
function randomTfms(dl: DataLoader): string[] {
  return [...dl.dataset.itemTfms, ...dl.batchTfms].filter((t) => t.isRandom(dl.split)).map((t) => t.name);
}
