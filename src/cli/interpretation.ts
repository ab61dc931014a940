import { writeFileAtomic } from '../core/atomicWrite.js';
import { join } from 'node:path';
import { formatClassificationReport, type ClassificationInterpretation } from '../index.js';

/** The files {@link writeInterpretation} writes. */
export interface InterpretationFiles {
  confusionMatrix: string;
  topLosses: string;
  report: string;
}

/**
 * What `train` and `interpret` both leave in `--out`: the confusion matrix, the top
 * losses and the classification report (also printed, with the most confused pairs).
 */
export async function writeInterpretation(interp: ClassificationInterpretation, out: string, topK: number, log: (line: string) => void): Promise<InterpretationFiles> {
  const confusionMatrix = await interp.plotConfusionMatrix({ file: join(out, 'confusion-matrix.png') });
  const topLosses = await interp.plotTopLosses(Math.min(topK, interp.losses.length), { file: join(out, 'top-losses.png') });
  const text = formatClassificationReport(interp.classificationReport());
  const confused = interp.mostConfused();
  const lines = [
    text,
    '',
    'Most confused (actual → predicted: count):',
    ...(confused.length ? confused.map(([a, p, n]) => `  ${a} → ${p}: ${n}`) : ['  (none)']),
  ];
  const report = join(out, 'report.txt');
  await writeFileAtomic(report, `${lines.join('\n')}\n`);
  log(lines.join('\n'));
  return { confusionMatrix, topLosses, report };
}
