/**
 * Export of one training step's arithmetic: the forward network (export.ts, weights as graph
 * inputs), EDM's L2 loss on eps and its hand-derived gradient (backward.ts), so ONNX Runtime
 * returns the loss and d loss / d weight for every parameter. The optimiser stays on the host
 * (train/optimizer.ts), so clipping, the NaN guard and checkpoints are shared with tfjs training.
 *
 * Extra inputs: eps `[B, N, D]` (the noise the network must predict) and loss_weight `[B, 1, D]`
 * (per molecule and channel: 1 / (B D denomN), 0 for the feature channels of t = 0 rows; see
 * diffusion/loss.ts). Outputs: loss (scalar) = 0.5 sum(loss_weight (eps - eps_theta)^2), and
 * `grad:<parameter>` with the parameter's shape.
 */
import type { DynamicsConfig } from '../config.js';
import { Backward } from './backward.js';
import { DynamicsGraph, type DynamicsExportOptions } from './export.js';
import { encodeModel } from './proto.js';

/** Name of the graph output holding a parameter's gradient. */
export const gradOutput = (param: string): string => `grad:${param}`;

/**
 * Export the training step of a network.
 * @param inNodeNf embedding input width F + 1 + C
 * @returns serialised ModelProto (opset 17)
 * @throws Error for an aggregation other than `sum`
 */
export function exportTrainingStep(cfg: DynamicsConfig, inNodeNf: number, opts: DynamicsExportOptions): Uint8Array {
  if (cfg.aggregation !== 'sum') throw new Error(`ONNX export: aggregation ${cfg.aggregation} is not supported`);
  const net = new DynamicsGraph(undefined, cfg, inNodeNf);
  const g = net.g;
  const tape = net.forward(opts);
  const eps = g.input('eps', ['B', 'N', opts.D]);
  const weight = g.input('loss_weight', ['B', 1, opts.D]);
  const err = g.node('Sub', [tape.eps, eps]);
  const gEps = g.node('Mul', [err, weight]);
  g.output(g.node('Mul', [g.scalar(0.5), g.node('ReduceSum', [g.node('Mul', [err, gEps])], [['keepdims', 0]])]), 'loss', []);
  const back = new Backward(net, tape);
  back.run(gEps, opts.D, opts.centred);
  for (const [name, shape] of net.shapes) {
    const grad = back.grads.get(name);
    if (!grad) throw new Error(`ONNX backward: no gradient for ${name}`);
    g.output(grad, gradOutput(name), shape);
  }
  const doc = `egnn_dynamics training step, nf ${cfg.nf}, ${cfg.nLayers} layers, D ${opts.D}, context ${opts.contextNf}, centred ${opts.centred}`;
  return encodeModel(g.model('egnn_dynamics_train', doc));
}
