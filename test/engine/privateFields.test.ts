import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as tf from '../../src/core/tf.js';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/index.js';
import { checkPrivateFields, tfjsPrivateFields } from '../../src/engine/tfjs/privateFields.js';

const src = join(import.meta.dirname, '..', '..', 'src');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/**
 * Reading a tfjs private field, as code does it: `.field` on something, or a cast of a
 * tfjs object to a shape that names one. Config keys (`useBias: false`) and fastvision's
 * own objects with the same generic names (`.padding` of a ResizeSpec) are not reads of
 * tfjs internals, so the generic names are caught only where they sit next to a layer,
 * backend or variable in the same expression.
 */
const distinctive = ['inboundNodes', 'containerNodes', 'movingMean', 'movingVariance', 'depthwiseKernel', 'dilationRate', 'dataIdMap', 'makeOutput', 'firstUse', 'isUsingGpuDevice', 'HEAPU8'];
const patterns = [
  new RegExp(`\\.(${distinctive.join('|')})\\b`),
  /\b(?<!tf\.)(layer|layers|bn|conv|pad|relu|backend|l)\.(kernel|bias|gamma|beta|strides|padding|axis|epsilon|momentum|maxValue|useBias|activation|dataFormat)\b/,
  /\.call\s*=(?!=)/,
  /as unknown as \{[^}]*\b(inboundNodes|containerNodes|movingMean|kernel|gamma|padding|maxValue|dataIdMap|firstUse|isUsingGpuDevice)\b/,
];

describe('tfjs private fields', () => {
  it('no file outside src/engine/ reaches into them', () => {
    const offenders: string[] = [];
    for (const file of files(src)) {
      const rel = relative(src, file);
      if (rel.startsWith('engine/')) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (patterns.some((p) => p.test(line))) offenders.push(`src/${rel}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
  });

  it('the lint finds them where they are (engine/), so it is not vacuous', () => {
    const engine = files(join(src, 'engine')).map((f) => readFileSync(f, 'utf8')).join('\n');
    for (const name of ['inboundNodes', 'movingMean', 'dataIdMap', 'firstUse']) expect(engine).toMatch(new RegExp(`\\b${name}\\b`));
    expect(patterns[0]!.test('x.movingMean.read()')).toBe(true);
    expect(patterns[1]!.test('const g = bn.gamma;')).toBe(true);
    expect(patterns[2]!.test('layer.call = wrapped;')).toBe(true);
  });

  it('every declared field exists in the installed tfjs, on wasm and cpu', async () => {
    for (const backend of ['wasm', 'cpu'] as const) {
      await initBackend({ backend });
      expect(() => checkPrivateFields(tf.getBackend())).not.toThrow();
    }
    expect(Object.keys(tfjsPrivateFields)).toEqual(expect.arrayContaining(['Layer', 'BatchNormalization', 'wasm']));
  });

  it('a missing field is one clear error naming it and the tfjs version', async () => {
    await initBackend({ backend: 'cpu' });
    const backend = tf.backend() as unknown as { firstUse?: boolean };
    const saved = backend.firstUse;
    delete backend.firstUse;
    try {
      expect(() => checkPrivateFields('cpu')).toThrow(new RegExp(`@tensorflow/tfjs-core ${tf.version_core.replaceAll('.', '\\.')} lacks internals fastvision relies on \\(cpu backend\\.firstUse\\)`));
    } finally {
      backend.firstUse = saved;
    }
  });
});
