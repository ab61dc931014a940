import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ClassificationInterpretation,
  CSVLogger,
  DataLoaders,
  lightingTransform,
  Resize,
  backendInfo,
  describeAdapter,
  errorRate,
  formatClassificationReport,
  initBackend,
  loadLearner,
  readCsv,
  slice,
  visionLearner,
  type ArchName,
  type Learner,
  type Row,
} from 'fastvision';

/** The study's results after each phase (validation error), for the report. */
export const studyErrors = [0.213, 0.187, 0.179, 0.169];
/** The four phases, at this run's sizes (the study's: 224 and 320 px). */
export const phaseNames = ([a, b]: [number, number]) => [`frozen, ${a} px`, `unfrozen, ${a} px`, `frozen, ${b} px`, `unfrozen, ${b} px`];

export interface StudyOptions {
  data: string;
  out: string;
  arch: ArchName;
  sizes: [number, number];
  epochs: number;
  bs: number;
  /** 'auto' takes the LR finder's valley. */
  lr: 'auto' | number;
  pretrained: boolean;
  /** Words for the report: why these settings (e.g. "quick CPU recipe"). */
  recipe: string;
  /** LR-finder iterations. Default 100, as fastai. */
  lrFindIt?: number;
  log?: (line: string) => void;
}

/** Rows tagged with exactly one of the two genres, labelled with it (the study drops rows with both). */
export function pickTwoGenres(rows: readonly Row[], a: string, b: string): Row[] {
  return rows.filter((r) => Number(r[a]) + Number(r[b]) === 1).map((r) => ({ ...r, label: Number(r[a]) === 1 ? a : b }));
}

/** Replays the study: returns the run directory with every picture, the epoch tables and report.md. */
export async function runStudy(o: StudyOptions): Promise<string> {
  const log = o.log ?? ((l: string) => console.log(l));
  await initBackend();
  await mkdir(o.out, { recursive: true });
  const rows = pickTwoGenres(await readCsv(join(o.data, 'albums.csv')), 'metal', 'rap');
  const counts = { metal: rows.filter((r) => r.label === 'metal').length, rap: rows.filter((r) => r.label === 'rap').length };
  log(`${rows.length} covers: ${counts.metal} metal, ${counts.rap} rap`);
  // The study's fastai v1 transforms: get_transforms(do_flip=False, max_rotate=0, max_zoom=0, max_warp=0)
  // still crops at a random place on train (centre on valid) and varies brightness and contrast.
  const dls = await DataLoaders.fromDataFrame(rows, {
    path: o.data, fnCol: 'image_name', labelCol: 'label', validPct: 0.2, seed: 42, bs: o.bs, onBadImage: 'skip',
    itemTfms: [Resize(o.sizes[0])],
    batchTfms: [lightingTransform({ maxLighting: 0.2, pLighting: 0.75 })],
  });
  await dls.showBatch({ file: join(o.out, 'batch.png') });
  const learn = await visionLearner(dls, o.arch, { metrics: [errorRate], pretrained: o.pretrained, logger: log });
  const errors: number[] = [];
  const epochTimes: number[] = [];
  const phase = async (k: number, train: () => Promise<void>) => {
    log(`\nphase ${k + 1}: ${phaseNames(o.sizes)[k]}`);
    await train();
    errors.push(learn.recorder.finalRecord![2]!);
    epochTimes.push(...learn.recorder.times);
  };
  const cbs = (k: number) => [new CSVLogger(join(o.out, `epochs-phase${k + 1}.csv`))];
  const lrFor = async (file: string) => {
    const found = await learn.lrFind({ plot: join(o.out, file), numIt: o.lrFindIt ?? 100 });
    if (o.lr !== 'auto') return o.lr;
    if (!Number.isFinite(found.valley)) {
      log('LR finder: the loss curve was too short for a suggestion; using 1e-3');
      return 1e-3;
    }
    log(`LR finder: valley ${found.valley!.toExponential(2)}`);
    return found.valley!;
  };

  let lr = await lrFor('lr-find-1.png');
  await phase(0, () => learn.fitOneCycle(o.epochs, slice(lr), { cbs: cbs(0) }));
  learn.unfreeze();
  await lrFor('lr-find-2.png');
  await phase(1, () => learn.fitOneCycle(o.epochs, slice(1e-4, 1e-3 / 5), { cbs: cbs(1) }));
  learn.dls = dls.withSize(o.sizes[1]);
  learn.freeze();
  lr = o.lr === 'auto' ? lr : o.lr;
  await phase(2, () => learn.fitOneCycle(o.epochs, slice(lr), { cbs: cbs(2) }));
  learn.unfreeze();
  await phase(3, () => learn.fitOneCycle(o.epochs, slice(1e-4, 1e-3 / 5), { cbs: cbs(3) }));
  await learn.recorder.plotLoss({ file: join(o.out, 'loss.png') });

  const interp = await ClassificationInterpretation.fromLearner(learn);
  await interp.plotTopLosses(9, { file: join(o.out, 'top-losses.png') });
  await interp.plotConfusionMatrix({ file: join(o.out, 'confusion-matrix.png') });
  const report = formatClassificationReport(interp.classificationReport());
  log(`\n${report}`);
  await interp.plotTopPredictions('metal', { k: 12, file: join(o.out, 'most-metal.png') });
  await interp.plotTopPredictions('rap', { k: 12, file: join(o.out, 'most-rap.png') });

  const exported = await learn.export(join(o.out, 'model'));
  const scores = await scoreEveryCover(await loadLearner(exported), rows, o.data);
  await writeFile(join(o.out, 'scores.csv'), scores);
  await writeFile(join(o.out, 'report.md'), studyReport(o, learn, { counts, errors, epochTimes, report, cm: interp.confusionMatrix() }));
  return o.out;
}

/** Every cover's probability of metal and rap, from the exported model (as a user would load it). */
async function scoreEveryCover(learn: Learner, rows: readonly Row[], data: string): Promise<string> {
  const lines = ['id,label,p_metal,p_rap'];
  const { vocab } = learn.inferenceConfig;
  for (const r of rows) {
    try {
      const { probs } = await learn.predict(join(data, String(r.image_name)));
      lines.push(`${r.id},${r.label},${probs[vocab.indexOf('metal')]!.toFixed(4)},${probs[vocab.indexOf('rap')]!.toFixed(4)}`);
    } catch {
      lines.push(`${r.id},${r.label},,`); // a cover that cannot be decoded (it was skipped in training too)
    }
  }
  return `${lines.join('\n')}\n`;
}

function studyReport(
  o: StudyOptions,
  learn: Learner,
  r: { counts: { metal: number; rap: number }; errors: number[]; epochTimes: number[]; report: string; cm: number[][] },
): string {
  const b = backendInfo();
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const meanEpoch = r.epochTimes.reduce((a, t) => a + t, 0) / Math.max(1, r.epochTimes.length);
  return `# Metal vs rap: this run next to the study

Recipe: ${o.recipe} — ${o.arch}${o.pretrained ? ' (ImageNet-pretrained)' : ' (random init)'}, sizes ${o.sizes.join(' → ')} px, ${o.epochs} epoch(s) a phase, batch ${o.bs}.
Data: ${r.counts.metal + r.counts.rap} covers (${r.counts.metal} metal, ${r.counts.rap} rap) from \`${o.data}\`; 20% validation split, seed 42.
Backend: ${b.name} (${b.package} ${b.version}), ${b.threads} thread(s)${b.adapter ? ` on the adapter ${describeAdapter(b.adapter)}` : ''}; training on ${b.training.engine}, inference on ${b.inference.engine}; ${meanEpoch.toFixed(1)} s per epoch on average.

| phase | this run: error | the study: error (224 / 320 px) |
|---|---:|---:|
${phaseNames(o.sizes).map((p, k) => `| ${p} | ${r.errors[k] != null ? pct(r.errors[k]!) : '–'} | ${pct(studyErrors[k]!)} |`).join('\n')}

Final accuracy ${pct(1 - r.errors.at(-1)!)} (the study: 83.1%).

## Confusion matrix (rows actual, columns predicted: ${learn.inferenceConfig.vocab.join(', ')})

${r.cm.map((row) => `    ${row.join('\t')}`).join('\n')}

![confusion matrix](confusion-matrix.png)

## Classification report

\`\`\`text
${r.report}
\`\`\`

## Pictures

| | |
|---|---|
| a batch ![batch](batch.png) | LR finder, frozen ![lr](lr-find-1.png) |
| LR finder, unfrozen ![lr](lr-find-2.png) | losses ![loss](loss.png) |
| top losses ![top losses](top-losses.png) | most metal ![most metal](most-metal.png) |
| most rap ![most rap](most-rap.png) | |

Epoch tables: \`epochs-phase1.csv\` … \`epochs-phase4.csv\`. Every cover's scores: \`scores.csv\`. The exported model: \`model/\`.
`;
}
