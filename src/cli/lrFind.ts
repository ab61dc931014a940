import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { numberOption, parse } from './args.js';
import { learnerOptionSpecs, learnerOptionsHelp, makeLearner, readLearnerOptions } from './learnerOptions.js';

export const lrFindUsage = `Usage: fastvision lr-find --csv <file> [options]

fastai's LR finder on a fresh learner (pretrained and frozen, as \`train\` starts):
trains briefly at learning rates growing from 1e-7 to 10, prints the suggestions
(valley, slide, minimum, steep) and draws the curve. Nothing is saved; use the valley
with \`fastvision train --lr <value>\`, or let \`train --lr auto\` do this itself.

Options:
${learnerOptionsHelp}
  --num-it <n>             Iterations (default 100, as fastai)
  --plot <file>            The picture to write (default lr-find.png)
  -h, --help               Show this help
`;

export async function lrFind(args: string[]): Promise<void> {
  const { values } = parse(args, { ...learnerOptionSpecs, 'num-it': { type: 'string' }, plot: { type: 'string' } }, lrFindUsage);
  if (values.help) return void process.stdout.write(lrFindUsage);
  const config = readLearnerOptions(values);
  const numIt = numberOption(values['num-it'], 'num-it', 100, { integer: true, min: 10 });
  const plot = values.plot ?? 'lr-find.png';
  const log = (line: string) => console.log(line);
  const learn = await makeLearner(config, log);
  await mkdir(dirname(plot), { recursive: true });
  const found = await learn.lrFind({ numIt, plot, suggestFuncs: ['valley', 'slide', 'minimum', 'steep'] });
  for (const name of ['valley', 'slide', 'minimum', 'steep'] as const) {
    const lr = found[name]!;
    log(`${name.padEnd(8)} ${Number.isFinite(lr) ? lr.toExponential(2) : 'none (the curve is too short)'}`);
  }
  log(`Wrote ${plot}`);
  learn.model.dispose();
}
