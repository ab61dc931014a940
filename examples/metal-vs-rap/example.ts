/**
 * `npm run example`: the metal-vs-rap study, end to end.
 *
 *   npm run example                     # train on data/ (albums.csv + images/)
 *   npm run example -- --demo           # synthetic covers, every step in minutes
 *   npm run example -- --data covers --arch resnet34 --sizes 224,320 --epochs 5 --bs 64 --lr auto
 *   npm run example -- --demo --quick --demo-images 16 --sizes 32,32 --bs 4 --lr-find-it 4   # the smallest run
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { backendInfo, describeAdapter, initBackend, type ArchName } from 'fastvision';
import { fetchDataset } from './fetch.js';
import { writeSyntheticCovers } from './synthetic.js';
import { runStudy } from './train.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: 'data' },
    out: { type: 'string' },
    arch: { type: 'string' },
    sizes: { type: 'string' },
    epochs: { type: 'string' },
    bs: { type: 'string' },
    lr: { type: 'string', default: 'auto' },
    quick: { type: 'boolean', default: false },
    contact: { type: 'string' },
    demo: { type: 'boolean', default: false },
    'demo-images': { type: 'string', default: '160' },
    'lr-find-it': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

async function main(): Promise<void> {
  if (values.help) {
    console.log('Usage: npm run example -- [--demo] [--data dir] [--arch resnet34] [--sizes 224,320] [--epochs 5] [--bs 64] [--lr auto|1e-3] [--lr-find-it 100] [--quick] [--out dir] [--demo-images 160]');
    return;
  }
  const out = values.out ?? join('runs', new Date().toISOString().replace(/[:.]/g, '-'));
  let data = values.data!;
  let demo = values.demo!;
  if (!demo && !existsSync(join(data, 'albums.csv'))) {
    const contact = values.contact ?? process.env.MB_CONTACT;
    if (!contact) {
      console.log(`No ${join(data, 'albums.csv')} and no contact for MusicBrainz (--contact or MB_CONTACT): running the synthetic demo instead (--demo).`);
      demo = true;
    } else {
      try {
        await fetchDataset({ out: data, contact, ...(process.env.MB_URL ? { mbUrl: process.env.MB_URL } : {}), ...(process.env.CAA_URL ? { caaUrl: process.env.CAA_URL } : {}) });
      } catch (err) {
        const offline = /fetch failed|ENOTFOUND|ECONNREFUSED|EAI_AGAIN|ETIMEDOUT/.test(`${(err as Error).message} ${(err as Error).cause ?? ''}`);
        if (!offline) throw err;
        console.log('MusicBrainz is unreachable and there is no data: running the synthetic demo instead (--demo).');
        demo = true;
      }
    }
  }
  await initBackend();
  // A software adapter (webgpu on SwiftShader, lavapipe, WARP) computes on the CPU: backendInfo().gpu is false for it.
  const { gpu, adapter } = backendInfo();
  const quick = values.quick || (!gpu && !demo && !values.arch);
  if (demo) {
    data = join(out, 'synthetic-data');
    await writeSyntheticCovers(data, Number(values['demo-images']), 96);
    console.log(`Demo: ${values['demo-images']} SYNTHETIC covers (generated, not real album art) in ${data}`);
  } else if (quick) {
    const why = adapter?.software ? `The webgpu adapter is software (${describeAdapter(adapter)})` : 'No GPU backend';
    console.log(`${why}: using the quick CPU recipe (resnet18, 128 → 160 px, 2 epochs a phase); pass --arch to choose yourself.`);
  }
  const recipe = demo ? 'demo on synthetic covers' : quick ? 'quick CPU recipe' : "the study's recipe";
  const dir = await runStudy({
    data,
    out,
    arch: (values.arch as ArchName | undefined) ?? (demo || quick ? 'resnet18' : 'resnet34'),
    sizes: (values.sizes?.split(',').map(Number) as [number, number] | undefined) ?? (demo ? [48, 64] : quick ? [128, 160] : [224, 320]),
    epochs: Number(values.epochs ?? (demo ? 1 : quick ? 2 : 5)),
    bs: Number(values.bs ?? (demo ? 8 : 64)),
    lr: values.lr === 'auto' ? 'auto' : Number(values.lr),
    pretrained: !demo,
    recipe,
    ...(values['lr-find-it'] ? { lrFindIt: Number(values['lr-find-it']) } : demo ? { lrFindIt: 20 } : {}),
  });
  console.log(`\nDone: ${join(dir, 'report.md')}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
