/**
 * Export of one training step's arithmetic: the network and EDM's L2 loss of
 * egnn/definition.ts (weights as graph inputs) and the loss's gradient derived by reverse mode
 * (net/autodiff.ts), so ONNX Runtime returns the loss and d loss / d weight for every parameter.
 * The optimiser stays on the host (train/optimizer.ts), so clipping, the NaN guard and
 * checkpoints are shared with tfjs training.
 *
 * Extra inputs: eps `[B, N, D]` (the noise the network must predict) and loss_weight `[B, 1, D]`
 * (see definition.ts trainingGraph). Outputs: loss (scalar) and `grad:<parameter>` with the
 * parameter's shape.
 */
import type { DynamicsConfig } from '../config.js';
import { type DynamicsSignature, trainingGraph } from '../egnn/definition.js';
import { gradients } from '../net/autodiff.js';
import { type EmitOutput, emitOnnx } from './emit.js';
import { encodeModel } from './proto.js';

/** Name of the graph output holding a parameter's gradient. */
export const gradOutput = (param: string): string => `grad:${param}`;

/**
 * Export the training step of a network.
 * @param inNodeNf embedding input width F + 1 + C (must agree with D and the context width)
 * @returns serialised ModelProto (opset 17)
 * @throws Error for an aggregation other than `sum`, or an inNodeNf that disagrees with opts
 */
export function exportTrainingStep(cfg: DynamicsConfig, inNodeNf: number, opts: DynamicsSignature): Uint8Array {
  if (inNodeNf !== opts.D - 3 + 1 + opts.contextNf) throw new Error(`ONNX training export: inNodeNf ${inNodeNf} does not fit D ${opts.D} and context ${opts.contextNf}`);
  const net = trainingGraph(cfg, opts);
  const params = [...net.g.params.values()];
  const grads = gradients(net.g, net.loss, params);
  const outputs: EmitOutput[] = [{ value: net.loss, name: 'loss', dims: [] }, ...params.map((p) => ({ value: grads.get(p)!, name: gradOutput(p.name!), dims: p.shape }))];
  const b = emitOnnx(net.g, outputs);
  const doc = `egnn_dynamics training step, nf ${cfg.nf}, ${cfg.nLayers} layers, D ${opts.D}, context ${opts.contextNf}, centred ${opts.centred}`;
  return encodeModel(b.model('egnn_dynamics_train', doc));
}
