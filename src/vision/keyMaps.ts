import type { KeyMap } from './torchWeights.js';

/** Blocks per stage of MobileNetV2, as both torchvision's `features` and timm's `blocks` count them. */
const mobilenetV2Stages = [1, 2, 3, 4, 3, 3, 1];

/**
 * torchvision MobileNetV2 keys → timm's (`mobilenetv2_100`): `features.0` is
 * `conv_stem`/`bn1`, `features.k` the j-th block of a stage under `blocks.s.j`,
 * `features.18` is `conv_head`/`bn2`, and `classifier.1` is `classifier`.
 */
export const timmMobilenetV2Keys: KeyMap = (key) => {
  const tail = (k: string) => k.split('.').slice(-1)[0]!;
  let m = /^features\.0\.([01])\.(\w+)$/.exec(key);
  if (m) return `${m[1] === '0' ? 'conv_stem' : 'bn1'}.${m[2]}`;
  m = /^features\.18\.([01])\.(\w+)$/.exec(key);
  if (m) return `${m[1] === '0' ? 'conv_head' : 'bn2'}.${m[2]}`;
  if (key.startsWith('classifier.1.')) return `classifier.${tail(key)}`;
  m = /^features\.(\d+)\.conv\.(.+)$/.exec(key);
  if (!m) return key;
  const [stage, block] = stageOf(Number(m[1]));
  const prefix = `blocks.${stage}.${block}`;
  const part = m[2]!;
  // torchvision's block: [expand conv+bn (t ≠ 1)], depthwise conv+bn, project conv, bn.
  const names: Record<string, string> =
    stage === 0
      ? { '0.0': 'conv_dw', '0.1': 'bn1', '1': 'conv_pw', '2': 'bn2' }
      : { '0.0': 'conv_pw', '0.1': 'bn1', '1.0': 'conv_dw', '1.1': 'bn2', '2': 'conv_pwl', '3': 'bn3' };
  const module = part.slice(0, part.lastIndexOf('.'));
  const mapped = names[module];
  return mapped ? `${prefix}.${mapped}.${tail(part)}` : key;
};

function stageOf(feature: number): [number, number] {
  let first = 1;
  for (let s = 0; s < mobilenetV2Stages.length; s++) {
    if (feature < first + mobilenetV2Stages[s]!) return [s, feature - first];
    first += mobilenetV2Stages[s]!;
  }
  return [-1, -1];
}
