/** Per-channel mean and standard deviation of pixels scaled to [0, 1], as fastai's stats tuples. */
export interface NormStats {
  /** Mean of R, G and B. */
  mean: [number, number, number];
  /** Standard deviation of R, G and B. */
  std: [number, number, number];
}

const tables = new Map<string, Float32Array[]>();

/**
 * Per channel, the float32 value of each uint8 level: `(v/255 − mean)/std`, or `v/255`
 * without stats. Plain numbers, no tensors: the browser page normalises with the same
 * tables, so its inputs are bit for bit the ones `predict` makes.
 */
function channelTables(stats?: NormStats): Float32Array[] {
  const key = JSON.stringify(stats ?? null);
  const cached = tables.get(key);
  if (cached) return cached;
  const made = [0, 1, 2].map((c) => {
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) table[v] = stats ? (v / 255 - stats.mean[c]!) / stats.std[c]! : v / 255;
    return table;
  });
  tables.set(key, made);
  return made;
}

/** uint8 RGB pixels → float32 through {@link channelTables}, written into `out` (same length). */
export function normalizeInto(pixels: Uint8Array, out: Float32Array, stats?: NormStats): Float32Array {
  const [r, g, b] = channelTables(stats) as [Float32Array, Float32Array, Float32Array];
  for (let p = 0; p < pixels.length; p += 3) {
    out[p] = r[pixels[p]!]!;
    out[p + 1] = g[pixels[p + 1]!]!;
    out[p + 2] = b[pixels[p + 2]!]!;
  }
  return out;
}
