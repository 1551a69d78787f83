/**
 * Export of EDM's `egnn_dynamics` (any checkpoint: nf, layers, sublayers, attention, context) to
 * an ONNX graph with the same dense masked formulation as egnn/egnn.ts, operation for operation,
 * so ONNX Runtime computes the same eps_theta(z_t, t) to float32 rounding.
 *
 * Graph inputs (B molecules, N atom slots, symbolic):
 *   xh `[B, N, D]` normalised positions and features, t `[B, 1]`, node_mask `[B, N, 1]`,
 *   edge_mask `[B, N, N, 1]`, denoise_mask `[B, N, 1]`, and context `[B, N, C]` when the model
 *   has context channels. Output: eps `[B, N, D]`.
 * Weight slices the tfjs code takes at run time (the edge MLP's first layer split into h_i, h_j
 * and distance parts) are cut once here and stored as separate initializers.
 */
import type { DynamicsConfig } from '../config.js';
import type { Params } from '../egnn/params.js';
import { GraphBuilder } from './builder.js';
import { encodeModel } from './proto.js';

/** What the exported graph's inputs look like. */
export interface DynamicsExportOptions {
  /** width D of xh: 3 + features */
  D: number;
  /** per-node context channels (0: none) */
  contextNf: number;
  /** remove the centre of mass of the denoised atoms from the position output (MolGraph.centred) */
  centred: boolean;
}


/** The network, op by op (mirrors egnn.ts; see there for the why of each step). */
class DynamicsGraph {
  readonly g = new GraphBuilder();
  /** host copies of the weights, each downloaded once (edge layers are cut in three slices) */
  private readonly host = new Map<string, Float32Array>();

  constructor(
    private readonly p: Params,
    private readonly cfg: DynamicsConfig,
  ) {}

  /** A weight as an initializer, optionally rows [from, from + rows) of a `[in, out]` matrix. */
  private w(name: string, from = 0, rows?: number, suffix = ''): string {
    const t = this.p[name];
    if (!t) throw new Error(`ONNX export: weight ${name} is missing`);
    let all = this.host.get(name);
    if (!all) this.host.set(name, (all = t.dataSync() as Float32Array));
    if (t.shape.length === 1) return this.g.weight(`${name}${suffix}`, Float32Array.from(all), [t.shape[0]]);
    const [inDim, outDim] = t.shape as [number, number];
    const r = rows ?? inDim - from;
    return this.g.weight(`${name}${suffix}`, all.slice(from * outDim, (from + r) * outDim), [r, outDim]);
  }

  linear(x: string, name: string, bias = true): string {
    const y = this.g.node('MatMul', [x, this.w(`${name}.weight`)]);
    return bias ? this.g.node('Add', [y, this.w(`${name}.bias`)]) : y;
  }

  silu(x: string): string {
    return this.g.node('Mul', [x, this.g.node('Sigmoid', [x])]);
  }

  /** `[B, N, N, 1]` squared distances and `[B, N, N, 3]` normalised differences (coordDiff). */
  coordDiff(x: string, normConstant: number): { radial: string; diff: string } {
    const g = this.g;
    const d = g.node('Sub', [g.node('Unsqueeze', [x, g.ints([2])]), g.node('Unsqueeze', [x, g.ints([1])])]);
    const radial = g.node('ReduceSum', [g.node('Mul', [d, d]), g.ints([-1])], [['keepdims', 1]]);
    const norm = g.node('Sqrt', [g.node('Add', [radial, g.scalar(1e-8)])]);
    return { radial, diff: g.node('Div', [d, g.node('Add', [norm, g.scalar(normConstant)])]) };
  }

  /** First edge-MLP layer applied node-wise and broadcast to pairs (edgeFirstLayer). */
  edgeFirstLayer(h: string, radials: string, layer: string): string {
    const g = this.g;
    const H = this.cfg.nf;
    const hi = g.node('Add', [g.node('MatMul', [h, this.w(`${layer}.weight`, 0, H, ':i')]), this.w(`${layer}.bias`)]);
    const hj = g.node('MatMul', [h, this.w(`${layer}.weight`, H, H, ':j')]);
    const r = g.node('MatMul', [radials, this.w(`${layer}.weight`, 2 * H, 2, ':r')]);
    return g.node('Add', [g.node('Add', [r, g.node('Unsqueeze', [hi, g.ints([2])])]), g.node('Unsqueeze', [hj, g.ints([1])])]);
  }

  aggregate(m: string): string {
    const agg = this.g.node('ReduceSum', [m, this.g.ints([2])], [['keepdims', 0]]);
    return this.cfg.normalizationFactor !== 1 ? this.g.node('Div', [agg, this.g.scalar(this.cfg.normalizationFactor)]) : agg;
  }

  gcl(name: string, h: string, radials: string, nodeMask: string, edgeMask: string): string {
    const g = this.g;
    const H = this.cfg.nf;
    let m = this.silu(this.edgeFirstLayer(h, radials, `${name}.edge_mlp.0`));
    m = this.silu(this.linear(m, `${name}.edge_mlp.2`));
    const gate = this.cfg.attention ? g.node('Mul', [g.node('Sigmoid', [this.linear(m, `${name}.att_mlp.0`)]), edgeMask]) : edgeMask;
    const agg = this.aggregate(g.node('Mul', [m, gate]));
    const w0 = `${name}.node_mlp.0`;
    const pre = g.node('Add', [
      g.node('Add', [g.node('MatMul', [h, this.w(`${w0}.weight`, 0, H, ':h')]), this.w(`${w0}.bias`)]),
      g.node('MatMul', [agg, this.w(`${w0}.weight`, H, H, ':agg')]),
    ]);
    const upd = this.linear(this.silu(pre), `${name}.node_mlp.2`);
    return g.node('Mul', [g.node('Add', [h, upd]), nodeMask]);
  }

  coordUpdate(name: string, h: string, x: string, diff: string, radials: string, nodeMask: string, edgeMask: string, moveMask: string): string {
    const g = this.g;
    let m = this.silu(this.edgeFirstLayer(h, radials, `${name}.coord_mlp.0`));
    m = this.silu(this.linear(m, `${name}.coord_mlp.2`));
    let phi = this.linear(m, `${name}.coord_mlp.4`, false);
    if (this.cfg.tanh) phi = g.node('Mul', [g.node('Tanh', [phi]), g.scalar(this.cfg.coordsRange)]);
    const agg = this.aggregate(g.node('Mul', [diff, g.node('Mul', [phi, edgeMask])]));
    // multiplying by a mask of ones is exact, so one graph serves with and without fixed atoms
    return g.node('Mul', [g.node('Add', [x, g.node('Mul', [agg, moveMask])]), nodeMask]);
  }
}

/**
 * Export a network to ONNX bytes.
 * @param p weights (`[in, out]` layout, as params.ts)
 * @param cfg architecture (aggregation `sum`)
 * @returns a serialised ModelProto, opset 17
 * @throws Error for a missing weight or an aggregation other than `sum`
 */
export function exportDynamics(p: Params, cfg: DynamicsConfig, opts: DynamicsExportOptions): Uint8Array {
  if (cfg.aggregation !== 'sum') throw new Error(`ONNX export: aggregation ${cfg.aggregation} is not supported`);
  const net = new DynamicsGraph(p, cfg);
  const g = net.g;
  const { D, contextNf } = opts;
  const xhIn = g.input('xh', ['B', 'N', D]);
  const t = g.input('t', ['B', 1]);
  const nodeMask = g.input('node_mask', ['B', 'N', 1]);
  const edgeMask = g.input('edge_mask', ['B', 'N', 'N', 1]);
  const denoiseMask = g.input('denoise_mask', ['B', 'N', 1]);
  const context = contextNf > 0 ? g.input('context', ['B', 'N', contextNf]) : undefined;

  const xh = g.node('Mul', [xhIn, nodeMask]);
  const x0 = g.node('Slice', [xh, g.ints([0]), g.ints([3]), g.ints([2])]);
  const hIn = g.node('Slice', [xh, g.ints([3]), g.ints([D]), g.ints([2])]);
  const tNode = g.node('Expand', [g.node('Unsqueeze', [t, g.ints([2])]), g.node('Shape', [nodeMask])]);
  const embedIn = [hIn, tNode];
  if (context) embedIn.push(g.node('Mul', [context, nodeMask]));
  let h = net.linear(g.node('Concat', embedIn, [['axis', 2]]), 'embedding');
  const radial0 = net.coordDiff(x0, 1).radial;
  let x = x0;
  for (let l = 0; l < cfg.nLayers; l++) {
    const { radial, diff } = net.coordDiff(x, cfg.normConstant);
    const radials = g.node('Concat', [radial, radial0], [['axis', 3]]);
    let hb = h;
    for (let s = 0; s < cfg.invSublayers; s++) hb = net.gcl(`e_block_${l}.gcl_${s}`, hb, radials, nodeMask, edgeMask);
    x = net.coordUpdate(`e_block_${l}.gcl_equiv`, hb, x, diff, radials, nodeMask, edgeMask, denoiseMask);
    h = g.node('Mul', [hb, nodeMask]);
  }
  const hOut = g.node('Mul', [net.linear(h, 'embedding_out'), denoiseMask]);
  let vel = g.node('Mul', [g.node('Sub', [x, x0]), denoiseMask]);
  if (opts.centred) {
    // removeMeanWithMask over the denoised atoms
    const n = g.node('ReduceSum', [denoiseMask, g.ints([1])], [['keepdims', 1]]);
    const mean = g.node('Div', [g.node('ReduceSum', [g.node('Mul', [vel, denoiseMask]), g.ints([1])], [['keepdims', 1]]), n]);
    vel = g.node('Mul', [g.node('Sub', [vel, mean]), denoiseMask]);
  }
  const eps = g.node('Concat', [vel, g.node('Slice', [hOut, g.ints([0]), g.ints([D - 3]), g.ints([2])])], [['axis', 2]]);
  g.output(eps, 'eps', ['B', 'N', D]);
  const doc = `egnn_dynamics nf ${cfg.nf}, ${cfg.nLayers} layers, D ${D}, context ${contextNf}, centred ${opts.centred}`;
  return encodeModel(g.model('egnn_dynamics', doc));
}
