import { unsupportedForTraining, type LayerWriter } from './layerStep.js';
import type { TVal } from './trainGraph.js';

interface BatchNormConfig {
  axis: number;
  epsilon: number;
  momentum: number;
  center: boolean;
  scale: boolean;
}

/**
 * BatchNormalization in training mode, as tfjs-layers computes it: batch mean and
 * biased variance over every axis but the channels', y = γ·(x − μ)/√(σ² + ε) + β,
 * and the running averages updated as Keras does, `v ← v − (v − batch)·(1 − momentum)`
 * with the *biased* batch variance (tfjs-layers' `normalizeBatchInTraining`; PyTorch
 * would use M/(M−1) — we match tfjs, the engine we are compared with and replace).
 * Backward by the textbook formulas: dβ = Σdy, dγ = Σdy·x̂,
 * dx = γ/√(σ²+ε) · (dy − dβ/M − x̂·dγ/M). A frozen BatchNorm (trainable false) still
 * normalises with batch statistics and updates its running averages, as tfjs-layers
 * does in a training pass; it only gets no weight gradients.
 */
export const batchNormTrain: LayerWriter = (layer, [x], ctx) => {
  const { graph } = ctx;
  const config = layer.getConfig() as unknown as BatchNormConfig;
  const rank = x!.shape.length;
  if (config.axis !== -1 && config.axis !== rank - 1) throw unsupportedForTraining(layer, `axis ${config.axis} (only the channels, -1)`);
  if (!config.center || !config.scale) throw unsupportedForTraining(layer, 'center and scale must both be on');
  if (rank !== 4 && rank !== 2) throw unsupportedForTraining(layer, `a rank-${rank} input`);
  const channels = x!.shape[1]!;
  const axes = rank === 4 ? [0, 2, 3] : [0];
  const m = axes.reduce((p, a) => p * x!.shape[a]!, 1);
  // [C] weights broadcast over NCHW as [C, 1, 1]; over [N, C] as they are.
  const perChannel = rank === 4 ? [channels, 1, 1] : [channels];
  const name = layer.name;
  const gamma = graph.reshape(ctx.weight('gamma')!, perChannel, `${name}_gamma`);
  const beta = graph.reshape(ctx.weight('beta')!, perChannel, `${name}_beta`);
  if (ctx.inferenceMode) return inferenceModeStep(ctx, x!, gamma, beta, perChannel, axes, config.epsilon, name);

  // Full-tensor passes are what this layer costs (its [C] arithmetic is free): the
  // forward writes xc and y only — x̂ is never materialised — and the backward
  // folds every per-channel factor into dx = (dy − dβ/M + xc·k)·a, k = −invstd²·Σ(dy·xc)/M.
  const mean = graph.reduce('ReduceMean', x!, axes, true, `${name}_mean`);
  const xc = graph.bin('Sub', x!, mean, `${name}_xc`);
  const variance = graph.bin('Mul', graph.reduce('ReduceSumSquare', xc, axes, true, `${name}_ss`), graph.scalar(1 / m), `${name}_var`);
  const invstd = graph.op('Reciprocal', [graph.op('Sqrt', [graph.bin('Add', variance, graph.scalar(config.epsilon), `${name}_vareps`)], variance.shape, `${name}_std`)], variance.shape, `${name}_invstd`);
  const a = graph.bin('Mul', gamma, invstd, `${name}_a`);
  const y = graph.bin('Add', graph.bin('Mul', xc, a, `${name}_scaled`), beta, name);

  const decay = graph.scalar(1 - config.momentum);
  for (const [role, batch] of [['moving_mean', mean], ['moving_variance', variance]] as const) {
    const old = ctx.weight(role)!;
    const flat = graph.reshape(batch, [channels], `${name}_${role}_batch`);
    const delta = graph.bin('Mul', graph.bin('Sub', old, flat, `${name}_${role}_diff`), decay, `${name}_${role}_delta`);
    ctx.setRunningStat(role, graph.bin('Sub', old, delta, `${name}_${role}_new`));
  }

  return {
    output: y,
    backward(dy, [needX]) {
      const g = `${name}_grad`;
      const dBeta = graph.reduceSum(dy, axes, true, `${g}_beta`);
      const dyxc = graph.reduceSum(graph.bin('Mul', dy, xc, `${g}_dyxc`), axes, true, `${g}_dyxc_sum`);
      const dw: Record<string, TVal> = {};
      if (ctx.trainable) {
        dw.gamma = graph.reshape(graph.bin('Mul', dyxc, invstd, `${g}_gamma`), [channels], `${g}_gamma_flat`);
        dw.beta = graph.reshape(dBeta, [channels], `${g}_beta_flat`);
      }
      if (!needX) return { dx: [undefined], dw };
      const invM = graph.scalar(1 / m);
      const k = graph.bin('Mul', graph.bin('Mul', invstd, invstd, `${g}_invvar`), graph.bin('Mul', dyxc, graph.scalar(-1 / m), `${g}_dyxcM`), `${g}_k`);
      const centred = graph.bin('Sub', dy, graph.bin('Mul', dBeta, invM, `${g}_betaM`), `${g}_dyc`);
      const dx = graph.bin('Mul', graph.bin('Add', centred, graph.bin('Mul', xc, k, `${g}_proj`), `${g}_sum`), a, `${g}_dx`);
      return { dx: [dx], dw };
    },
  };
};

/**
 * A BatchNorm in inference mode inside a training step (BnFreeze): y = x·a + (β − μ·a)
 * with a = γ/√(running var + ε); the running statistics pass through unchanged, and
 * the backward is dx = dy·a (with dγ = Σdy·(x − μ)/√(var + ε), dβ = Σdy when it trains).
 */
function inferenceModeStep(ctx: Parameters<LayerWriter>[2], x: TVal, gamma: TVal, beta: TVal, perChannel: number[], axes: number[], epsilon: number, name: string): ReturnType<LayerWriter> {
  const { graph } = ctx;
  const channels = perChannel[0]!;
  const mean = graph.reshape(ctx.weight('moving_mean')!, perChannel, `${name}_rmean`);
  const variance = graph.reshape(ctx.weight('moving_variance')!, perChannel, `${name}_rvar`);
  const invstd = graph.op('Reciprocal', [graph.op('Sqrt', [graph.bin('Add', variance, graph.scalar(epsilon), `${name}_vareps`)], perChannel, `${name}_std`)], perChannel, `${name}_invstd`);
  const a = graph.bin('Mul', gamma, invstd, `${name}_a`);
  const shift = graph.bin('Sub', beta, graph.bin('Mul', mean, a, `${name}_meana`), `${name}_shift`);
  const y = graph.bin('Add', graph.bin('Mul', x, a, `${name}_scaled`), shift, name);
  return {
    output: y,
    backward(dy, [needX]) {
      const g = `${name}_grad`;
      const dw: Record<string, TVal> = {};
      if (ctx.trainable) {
        const dBeta = graph.reduceSum(dy, axes, false, `${g}_beta`);
        const xhat = graph.bin('Mul', graph.bin('Sub', x, mean, `${g}_xc`), invstd, `${g}_xhat`);
        dw.gamma = graph.reshape(graph.reduceSum(graph.bin('Mul', dy, xhat, `${g}_dyxhat`), axes, false, `${g}_gamma`), [channels], `${g}_gamma_flat`);
        dw.beta = graph.reshape(dBeta, [channels], `${g}_beta_flat`);
      }
      return { dx: [needX ? graph.bin('Mul', dy, a, `${g}_dx`) : undefined], dw };
    },
  };
}
