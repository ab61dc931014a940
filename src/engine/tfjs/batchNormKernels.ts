/**
 * BatchNorm's training passes as loops over channels-last data: `x` holds M rows of
 * C channels. Sums are kept in float64, so statistics do not drift on large batches
 * and dγ needs no centred copy of x. Each function reads every array once or twice:
 * the composite tfjs version made ~10 full-size passes (on wasm each elementwise
 * kernel costs several times a plain loop).
 */

/** Mean and biased variance per channel (two passes: the variance is centred). */
export function channelMoments(x: Float32Array, c: number, mean: Float32Array, variance: Float32Array): void {
  const m = x.length / c;
  const sum = new Float64Array(c);
  for (let i = 0; i < x.length; i += c) for (let j = 0; j < c; j++) sum[j]! += x[i + j]!;
  for (let j = 0; j < c; j++) sum[j]! /= m;
  const sq = new Float64Array(c);
  for (let i = 0; i < x.length; i += c)
    for (let j = 0; j < c; j++) {
      const d = x[i + j]! - sum[j]!;
      sq[j]! += d * d;
    }
  for (let j = 0; j < c; j++) {
    mean[j] = sum[j]!;
    variance[j] = sq[j]! / m;
  }
}

/** y = γ·(x − μ)·rstd + β, as one multiply-add per element. */
export function normalize(x: Float32Array, mean: Float32Array, variance: Float32Array, gamma: Float32Array, beta: Float32Array, eps: number, y: Float32Array): void {
  const c = mean.length;
  const a = new Float32Array(c);
  const b = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    a[j] = gamma[j]! / Math.sqrt(variance[j]! + eps);
    b[j] = beta[j]! - mean[j]! * a[j]!;
  }
  for (let i = 0; i < x.length; i += c) for (let j = 0; j < c; j++) y[i + j] = x[i + j]! * a[j]! + b[j]!;
}

/**
 * dβ = Σdy, dγ = rstd·(Σdy·x − μ·Σdy), and
 * dx = γ·rstd·(dy − dβ/M − x̂·dγ/M), written as dx = p·dy + q·x + r per channel.
 */
export function normalizeBackward(
  dy: Float32Array,
  x: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  gamma: Float32Array,
  eps: number,
  dx: Float32Array,
  dGamma: Float32Array,
  dBeta: Float32Array,
): void {
  const c = mean.length;
  const m = x.length / c;
  const sumDy = new Float64Array(c);
  const sumDyX = new Float64Array(c);
  for (let i = 0; i < x.length; i += c)
    for (let j = 0; j < c; j++) {
      const g = dy[i + j]!;
      sumDy[j]! += g;
      sumDyX[j]! += g * x[i + j]!;
    }
  const p = new Float32Array(c);
  const q = new Float32Array(c);
  const r = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    const rstd = 1 / Math.sqrt(variance[j]! + eps);
    const db = sumDy[j]!;
    const dg = rstd * (sumDyX[j]! - mean[j]! * db);
    dBeta[j] = db;
    dGamma[j] = dg;
    const a = gamma[j]! * rstd;
    p[j] = a;
    q[j] = (-a * rstd * dg) / m;
    r[j] = (-a * db) / m + (a * rstd * dg * mean[j]!) / m;
  }
  for (let i = 0; i < x.length; i += c) for (let j = 0; j < c; j++) dx[i + j] = p[j]! * dy[i + j]! + q[j]! * x[i + j]! + r[j]!;
}
