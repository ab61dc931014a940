import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { cachedFetch, type FetchOptions } from '../core/download.js';
import { env } from '../core/env.js';
import { pretrainedConfigs, type ArchName } from './pretrained.js';
import { checkPin } from './weightPins.js';
import { checkSafetensorsHeader, loadSafetensors, safetensorsHeaderLength, type TensorData } from './safetensors.js';

/**
 * Where an architecture's pretrained weights come from and are cached.
 *
 * @param arch - The architecture.
 * @returns The download URL (under `env.hubUrl`) and the cache path (under `env.cacheDir`).
 *
 * @example
 * ```ts
 * const { url, file } = weightsLocation('resnet34');   // to copy the file by hand for an offline machine
 * ```
 */
export function weightsLocation(arch: ArchName): { url: string; file: string } {
  const c = pretrainedConfigs[arch];
  return {
    url: `${env.hubUrl}/${c.hubRepo}/resolve/${c.revision}/${c.hubFile}`,
    file: join(env.cacheDir, 'hub', ...c.hubRepo.split('/'), c.hubFile),
  };
}

/**
 * The pretrained weights of `arch`, from the cache or the model hub (`env.hubUrl`),
 * checked by size and sha256 where `pretrainedConfigs` pins them, otherwise against
 * what was recorded the first time the file was used (see `checkPin`), and always by
 * parsing the safetensors header against the file's length, so a truncated file is
 * fetched again.
 *
 * @param arch - The architecture.
 * @param opts - `offline` (default `env.offline`) and `progress` (default true).
 * @returns The tensors by PyTorch name, in PyTorch layout.
 *
 * @example
 * ```ts
 * const tensors = await pretrainedWeights('resnet18');
 * tensors.get('conv1.weight')!.shape;   // [64, 3, 7, 7]
 * ```
 */
export async function pretrainedWeights(arch: ArchName, opts: FetchOptions = {}): Promise<Map<string, TensorData>> {
  const c = pretrainedConfigs[arch];
  const { url, file } = weightsLocation(arch);
  await cachedFetch({ url, file, ...(c.bytes ? { bytes: c.bytes } : {}), ...(c.sha256 ? { sha256: c.sha256 } : {}), validate: checkSafetensorsFile }, opts);
  if (!c.sha256) await checkPin(`${c.hubRepo}/${c.hubFile}`, file);
  return loadSafetensors(file);
}

/** Checks a cached file's safetensors header against its size without reading the data: cheap, and catches truncation. */
export async function checkSafetensorsFile(file: string): Promise<void> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const first8 = Buffer.alloc(Math.min(8, size));
    await fh.read(first8, 0, first8.byteLength, 0);
    const header = Buffer.alloc(safetensorsHeaderLength(first8, size, file));
    await fh.read(header, 0, header.byteLength, 8);
    checkSafetensorsHeader(header, size, file);
  } finally {
    await fh.close();
  }
}
