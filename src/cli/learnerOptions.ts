import { dirname } from 'node:path';
import {
  BnFreeze,
  DataLoaders,
  backendInfo,
  errorRate,
  initBackend,
  pretrainedConfigs,
  readCsv,
  visionLearner,
  type ArchName,
  type BackendName,
  type Learner,
} from '../index.js';
import { resolveColumn } from '../data/table.js';
import { booleanOption, choice, columnOption, existingDir, existingFile, numberOption } from './args.js';

/** The options `train` and `lr-find` share: where the data is and which learner to build. */
export const learnerOptionSpecs = {
  csv: { type: 'string' },
  path: { type: 'string' },
  'fn-col': { type: 'string' },
  'label-col': { type: 'string' },
  arch: { type: 'string' },
  pretrained: { type: 'string' },
  'no-pretrained': { type: 'boolean' },
  size: { type: 'string' },
  bs: { type: 'string' },
  'valid-pct': { type: 'string' },
  seed: { type: 'string' },
  backend: { type: 'string' },
  'bn-freeze': { type: 'boolean' },
} as const;

export const learnerOptionsHelp = `  --csv <file>             CSV with a header row: one row per image (required)
  --path <dir>             Folder the file names are relative to (default: the CSV's folder)
  --fn-col <name|index>    Column of file names (default 0, the first)
  --label-col <name|index> Column of labels (default 1, the second)
  --arch <name>            ${Object.keys(pretrainedConfigs).join(' | ')} (default resnet34)
  --pretrained <bool>      Start from ImageNet weights (default true); false trains from
                           random init and needs no download (also --no-pretrained)
  --size <px>              Image size, squished to a square (default 224)
  --bs <n>                 Batch size (default 64)
  --valid-pct <x>          Share of images held out for validation, in (0, 1) (default 0.2)
  --seed <n>               Seed of the split and shuffling (default 42)
  --backend <name>         Force a backend: gpu | node | wasm | cpu (default: the best installed)
  --bn-freeze              Frozen BatchNorm keeps ImageNet's statistics (fastai's train_bn=False
                           + BnFreeze): frozen epochs then train the head on body features
                           computed once per image, much faster on CPU`;

/** The checked values of {@link learnerOptionSpecs}. */
export interface LearnerConfig {
  csv: string;
  path: string;
  fnCol: string | number;
  labelCol: string | number;
  arch: ArchName;
  pretrained: boolean;
  size: number;
  bs: number;
  validPct: number;
  seed: number;
  backend: BackendName | undefined;
  bnFreeze: boolean;
}

/** Checks every option before anything slow starts, so a typo fails at once, naming the option. */
export function readLearnerOptions(values: { [K in keyof typeof learnerOptionSpecs]?: (typeof learnerOptionSpecs)[K]['type'] extends 'boolean' ? boolean : string }): LearnerConfig {
  const csv = existingFile(values.csv, 'csv');
  return {
    csv,
    path: values.path == null ? dirname(csv) : existingDir(values.path, 'path'),
    fnCol: columnOption(values['fn-col'], 0),
    labelCol: columnOption(values['label-col'], 1),
    arch: choice(values.arch, 'arch', Object.keys(pretrainedConfigs) as ArchName[], 'resnet34'),
    pretrained: values['no-pretrained'] ? false : booleanOption(values.pretrained, 'pretrained', true),
    size: numberOption(values.size, 'size', 224, { integer: true, min: 1 }),
    bs: numberOption(values.bs, 'bs', 64, { integer: true, min: 1 }),
    validPct: numberOption(values['valid-pct'], 'valid-pct', 0.2, { above: 0, below: 1 }),
    seed: numberOption(values.seed, 'seed', 42, { integer: true }),
    backend: values.backend == null ? undefined : choice(values.backend, 'backend', ['gpu', 'node', 'wasm', 'cpu'] as BackendName[], 'wasm'),
    bnFreeze: values['bn-freeze'] ?? false,
  };
}

/** The backend, the DataLoaders and a `visionLearner` with `errorRate`, as the config says. */
export async function makeLearner(c: LearnerConfig, log: (line: string) => void): Promise<Learner> {
  // Read once up front so a wrong column is reported under its command-line name.
  const rows = await readCsv(c.csv);
  resolveColumn(rows, c.fnCol, '--fn-col', c.csv);
  resolveColumn(rows, c.labelCol, '--label-col', c.csv);
  await initBackend(c.backend ? { backend: c.backend } : {});
  const b = backendInfo();
  log(`backend: ${b.name} (${b.reason})`);
  const dls = await DataLoaders.fromCsv(c.csv, { path: c.path, fnCol: c.fnCol, labelCol: c.labelCol, validPct: c.validPct, seed: c.seed, size: c.size, bs: c.bs });
  log(`${dls.train.n} training and ${dls.valid.n} validation images; classes: ${dls.vocab.join(', ')}`);
  const bn = c.bnFreeze ? { trainBn: false, cbs: [new BnFreeze()] } : {};
  return visionLearner(dls, c.arch, { metrics: [errorRate], pretrained: c.pretrained, logger: log, ...bn });
}
