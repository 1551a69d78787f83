/**
 * Export of EDM's `egnn_dynamics` (any checkpoint: nf, layers, sublayers, attention, context) to
 * ONNX: the op graph of egnn/definition.ts written as ONNX nodes (emit.ts), so ONNX Runtime
 * computes the same eps_theta(z_t, t) as the tfjs network to float32 rounding.
 *
 * Graph inputs (B molecules, N atom slots, symbolic): xh `[B, N, D]`, t `[B, 1]`, node_mask
 * `[B, N, 1]`, edge_mask `[B, N, N, 1]`, denoise_mask `[B, N, 1]`, and context `[B, N, C]` when
 * the model has context channels, bonds `[B, N, N, K]` for a bond-aware one. Outputs: eps
 * `[B, N, D]`, and eps_bonds `[B, N, N, K]` for a bond-aware model. Weights are initializers; the weight
 * slices of the edge and node MLPs' first layers are cut once here.
 */
import type { DynamicsConfig } from '../config.js';
import { type DynamicsSignature, dynamicsGraph } from '../egnn/definition.js';
import type { Params } from '../egnn/params.js';
import { emitOnnx } from './emit.js';
import { encodeModel } from './proto.js';

/** What the exported graph's inputs look like (see definition.ts). */
export type DynamicsExportOptions = DynamicsSignature;

/**
 * Export a network to ONNX bytes.
 * @param p weights (`[in, out]` layout, as params.ts)
 * @param cfg architecture (aggregation `sum`)
 * @returns a serialised ModelProto, opset 17
 * @throws Error for a missing weight or an aggregation other than `sum`
 */
export function exportDynamics(p: Params, cfg: DynamicsConfig, opts: DynamicsExportOptions): Uint8Array {
  const net = dynamicsGraph(cfg, opts);
  const host: Record<string, Float32Array> = {};
  for (const name of net.g.params.keys()) {
    const t = p[name];
    if (!t) throw new Error(`ONNX export: weight ${name} is missing`);
    host[name] = t.dataSync() as Float32Array;
  }
  const outputs = [{ value: net.eps, name: 'eps', dims: ['B', 'N', opts.D] as (string | number)[] }];
  if (net.epsBonds) outputs.push({ value: net.epsBonds, name: 'eps_bonds', dims: ['B', 'N', 'N', opts.bondNf!] });
  const b = emitOnnx(net.g, outputs, host);
  const doc = `egnn_dynamics nf ${cfg.nf}, ${cfg.nLayers} layers, D ${opts.D}, context ${opts.contextNf}, centred ${opts.centred}`;
  return encodeModel(b.model('egnn_dynamics', doc));
}
