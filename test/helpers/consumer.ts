/**
 * The scripts a user of the published package would write, for the packaging test:
 * the same 1-epoch fit through `import` (ESM) and `require` (CommonJS). They read the
 * data folder from argv and print one JSON line for the test to check.
 */
const body = (mod: string) => `
  const { initBackend, DataLoaders, visionLearner, errorRate, loadLearner, version } = ${mod};
  const data = process.argv[2];
  const backend = await initBackend();
  const dls = await DataLoaders.fromFolder(data, { validPct: 0.25, seed: 1, size: 16, bs: 4 });
  const lines = [];
  const learn = await visionLearner(dls, 'resnet18', { pretrained: false, metrics: [errorRate], logger: (l) => lines.push(l) });
  await learn.fitOneCycle(1, 1e-3);
  const dir = await learn.export(data + '-model');
  const p = await (await loadLearner(dir)).predict(data + '/dotted/dotted1.png');
  console.log(JSON.stringify({ version, backend: backend.name, inference: backend.inference.engine, vocab: dls.vocab, lines, prediction: p, onnx: (await import('node:fs')).existsSync(dir + '/model.onnx') }));
`;

export const esmScript = `${body("await import('fastvision')")}`;

// CommonJS has no top-level await: the same body inside an async function.
export const cjsScript = `const fastvision = require('fastvision');
(async () => {${body('fastvision')}})().catch((err) => { console.error(err); process.exit(1); });
`;
