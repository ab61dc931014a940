/**
 * The 3×3 matrices of fastai's affine and perspective transforms, in plain numbers
 * (no tensors): shared by the batch transforms and the browser's preprocessing.
 */

/** A 3×3 matrix, row-major. */
export type M3 = [number, number, number, number, number, number, number, number, number];

export const eye = (): M3 => [1, 0, 0, 0, 1, 0, 0, 0, 1];

export function mul(a: M3, b: M3): M3 {
  const out = new Array<number>(9) as M3;
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) out[r * 3 + c] = a[r * 3]! * b[c]! + a[r * 3 + 1]! * b[3 + c]! + a[r * 3 + 2]! * b[6 + c]!;
  return out;
}

/** Pixel index → fastai's normalised coordinate (`align_corners=True`: −1 and 1 are the outer pixels' centres). */
export const toNorm = (w: number, h: number): M3 => [w > 1 ? 2 / (w - 1) : 0, 0, -1, 0, h > 1 ? 2 / (h - 1) : 0, -1, 0, 0, 1];
export const fromNorm = (w: number, h: number): M3 => [(w - 1) / 2, 0, (w - 1) / 2, 0, (h - 1) / 2, (h - 1) / 2, 0, 0, 1];

/** Output pixel → input pixel of a plain resize from `[h, w]` to `size` (corners aligned, as fastai's affine resize). */
export function resizeMatrix(from: readonly [number, number], size: readonly [number, number]): M3 {
  return mul(fromNorm(from[1], from[0]), toNorm(size[1], size[0]));
}

/** The 8 parameters `tf.image.transform` takes for a projective matrix (scaled so the last entry is 1). */
export function projectiveParams(m: M3): number[] {
  return [m[0] / m[8], m[1] / m[8], m[2] / m[8], m[3] / m[8], m[4] / m[8], m[5] / m[8], m[6] / m[8], m[7] / m[8]];
}

/** fastai's pad modes as `tf.image.transform`'s fill modes. */
export const fill = { reflection: 'reflect', zeros: 'constant', border: 'nearest' } as const;
