import * as tf from '../core/tf.js';

/**
 * Proves the active backend before fastvision trains on it: a tiny convolution with
 * 'same' padding, a max pool and a depthwise convolution, forward and backward, read
 * back asynchronously (as a GPU backend must be read) and compared with values
 * computed here by hand. A package that installs but cannot compute — missing
 * libraries, a Node version it breaks on, refused attributes — fails here with its
 * own error, not at the first training step.
 *
 * Input: a 1×4×4×1 image of ones. Filter: a 3×3×1×1 of ones, 'same' padding, so the
 * output counts the in-bounds taps (4 at corners, 6 on edges, 9 inside). Loss: the
 * sum of the max pool (2×2, stride 2) of the depthwise-scaled output.
 */
export async function selfCheck(): Promise<void> {
  const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
  const w = tf.ones([3, 3, 1, 1]) as tf.Tensor4D;
  const d = tf.fill([1, 1, 1, 1], 2) as tf.Tensor4D;
  const f = (filter: tf.Tensor4D, scale: tf.Tensor4D) => tf.sum(tf.maxPool(tf.depthwiseConv2d(tf.conv2d(x, filter, 1, 'same'), scale, 1, 'valid'), 2, 2, 'valid'));
  let outs: tf.Tensor[] = [];
  try {
    const value = f(w, d);
    const [dw, dd] = tf.grads((a: tf.Tensor, b: tf.Tensor) => f(a as tf.Tensor4D, b as tf.Tensor4D))([w, d]);
    outs = [value, dw!, dd!];
    const [loss, gw, gd] = await Promise.all([value.data(), dw!.data(), dd!.data()]);
    // Every 2×2 pool window holds one interior 9, so the loss is 2·9·4 = 72. Each pool
    // picks an interior output; its 9 taps are all in bounds, so ∂loss/∂w = 2·4 = 8 per
    // tap, and ∂loss/∂scale = 9·4 = 36.
    const expected = { loss: [72], dFilter: Array(9).fill(8), dScale: [36] };
    const got = { loss: [...loss], dFilter: [...gw], dScale: [...gd] };
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      throw new Error(`it computed ${JSON.stringify(got)} where ${JSON.stringify(expected)} was expected`);
    }
  } finally {
    tf.dispose([x, w, d, ...outs]);
  }
}
