import { mkdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FastvisionError } from '../core/errors.js';

/** Where cached body features are kept (`featureCache` in LearnerOptions): memory within a byte budget, then files. */
export interface FeatureCacheOptions {
  /** Bytes of features kept in memory. Default 1 GiB. */
  memoryBytes?: number;
  /**
   * Directory for features past the memory budget. Default: a fresh folder under the
   * system's temp directory, removed when the learner's cache is cleared or the
   * process exits. `false` keeps features in memory only (items past the budget are
   * recomputed every epoch).
   */
  dir?: string | false;
}

export const defaultFeatureMemoryBytes = 1024 ** 3;

const tempDirs = new Set<string>();
let exitHook = false;

/** Per-item float32 vectors by key. Synchronous: an item's features are small and read once per epoch. */
export class FeatureStore {
  private readonly memory = new Map<string, Float32Array>();
  private readonly files = new Map<string, string>();
  private readonly budget: number;
  private readonly dirOption: string | false | undefined;
  private dir: string | undefined;
  private bytes = 0;
  /** Items written to disk, and items not kept at all (no budget, no directory). */
  spilled = 0;
  dropped = 0;

  constructor(opts: FeatureCacheOptions = {}) {
    this.budget = opts.memoryBytes ?? defaultFeatureMemoryBytes;
    if (!(this.budget >= 0)) throw new FastvisionError('BAD_OPTION', `fastvision: featureCache.memoryBytes must be ≥ 0, got ${String(opts.memoryBytes)}`);
    this.dirOption = opts.dir;
  }

  get size(): number {
    return this.memory.size + this.files.size;
  }

  get memoryBytes(): number {
    return this.bytes;
  }

  has(key: string): boolean {
    return this.memory.has(key) || this.files.has(key);
  }

  set(key: string, values: Float32Array): void {
    if (this.has(key)) return;
    if (this.bytes + values.byteLength <= this.budget) {
      this.memory.set(key, values);
      this.bytes += values.byteLength;
      return;
    }
    const dir = this.spillDir();
    if (!dir) {
      this.dropped++;
      return;
    }
    const file = join(dir, `${this.files.size}.f32`);
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, values);
    renameSync(tmp, file);
    this.files.set(key, file);
    this.spilled++;
  }

  /** Copies the item's features into `out` at `offset`. */
  readInto(key: string, out: Float32Array, offset: number): void {
    const inMemory = this.memory.get(key);
    if (inMemory) return out.set(inMemory, offset);
    const file = this.files.get(key);
    if (!file) throw new FastvisionError('BAD_OPTION', `fastvision: no cached features for '${key}'`);
    const buf = readFileSync(file);
    out.set(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4), offset);
  }

  clear(): void {
    this.memory.clear();
    this.files.clear();
    this.bytes = 0;
    this.spilled = 0;
    this.dropped = 0;
    if (this.dir && this.dirOption === undefined) {
      rmSync(this.dir, { recursive: true, force: true });
      tempDirs.delete(this.dir);
      this.dir = undefined;
    }
  }

  private spillDir(): string | undefined {
    if (this.dirOption === false) return undefined;
    if (this.dir) return this.dir;
    if (typeof this.dirOption === 'string') {
      this.dir = this.dirOption;
      mkdirSync(this.dir, { recursive: true });
    } else {
      this.dir = join(tmpdir(), `fastvision-features-${process.pid}-${Math.random().toString(36).slice(2)}`);
      mkdirSync(this.dir, { recursive: true });
      tempDirs.add(this.dir);
      if (!exitHook) {
        exitHook = true;
        process.once('exit', () => tempDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
      }
    }
    return this.dir;
  }
}
