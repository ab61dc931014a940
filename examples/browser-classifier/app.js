// The page's logic: pick a tfjs backend, load the export in ./model/, classify dropped or
// chosen images with fastvision's own preprocessing, show each class's probability.
// `window.fastvisionPage` exposes the state for tests and the console.
import { loadClassifier } from './fastvision-browser.js';

const tf = window.tf;
const state = (window.fastvisionPage = { ready: false, backend: null, error: null, results: [] });
const $ = (id) => document.getElementById(id);

/** webgl (the GPU) when the browser has it, else wasm, else cpu; `?backend=wasm` forces one. */
async function pickBackend() {
  if (tf.wasm) tf.wasm.setWasmPaths(new URL('vendor/', location.href).href);
  const forced = new URLSearchParams(location.search).get('backend');
  for (const name of forced ? [forced] : ['webgl', 'wasm', 'cpu']) {
    try {
      if (tf.findBackendFactory(name) && (await tf.setBackend(name))) return name;
    } catch {
      // not available in this browser: try the next
    }
  }
  throw new Error(forced ? `the ${forced} backend does not start in this browser` : 'no tfjs backend starts in this browser');
}

/** Decodes an image file at its own size: EXIF orientation applied, alpha kept apart (not premultiplied). */
async function decode(file) {
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image', premultiplyAlpha: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return ctx.getImageData(0, 0, canvas.width, canvas.height);
}

function show(file, scores, clf) {
  const div = document.createElement('div');
  div.className = 'result';
  const img = document.createElement('img');
  img.src = URL.createObjectURL(file);
  img.alt = file.name;
  const list = document.createElement('div');
  list.className = 'scores';
  const thresh = clf.meta.multiLabel ? (clf.meta.thresh ?? 0.5) : null;
  const name = document.createElement('div');
  name.textContent = file.name;
  list.append(name);
  scores.slice(0, 5).forEach((s, i) => {
    const row = document.createElement('div');
    row.className = `row${(thresh == null ? i === 0 : s.prob > thresh) ? ' top' : ''}`;
    row.innerHTML = '<span class="label"></span><div class="bar"><span></span></div><span class="pct"></span>';
    row.querySelector('.label').textContent = s.label;
    row.querySelector('.bar span').style.width = `${(100 * s.prob).toFixed(1)}%`;
    row.querySelector('.pct').textContent = `${(100 * s.prob).toFixed(1)}%`;
    list.append(row);
  });
  div.append(img, list);
  $('results').prepend(div);
}

async function classifyFiles(files, clf) {
  for (const file of files) {
    try {
      const scores = await clf.classify(await decode(file));
      state.results.push({ name: file.name, scores });
      show(file, scores, clf);
    } catch (err) {
      state.results.push({ name: file.name, error: String(err) });
      const p = document.createElement('p');
      p.className = 'error';
      p.textContent = `${file.name}: ${err.message ?? err}`;
      $('results').prepend(p);
    }
  }
}

try {
  state.backend = await pickBackend();
  const clf = await loadClassifier(tf, new URL('model/', location.href).href);
  const { vocab, resize, arch } = clf.meta;
  $('status').textContent = `${arch ?? 'model'} · ${vocab.length} classes (${vocab.slice(0, 6).join(', ')}${vocab.length > 6 ? ', …' : ''}) · ${resize.width}×${resize.height} ${resize.method} · tfjs ${tf.version_core} on ${state.backend}`;
  $('files').addEventListener('change', (e) => classifyFiles([...e.target.files], clf));
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    classifyFiles([...e.dataTransfer.files].filter((f) => f.type.startsWith('image/')), clf);
  });
  state.ready = true;
} catch (err) {
  state.error = String(err);
  $('status').className = 'error';
  $('status').textContent = `Could not start: ${err.message ?? err}`;
}
