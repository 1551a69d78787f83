/**
 * Export of EDM's `egnn_dynamics` (any checkpoint: nf, layers, sublayers, attention, context) to
 * an ONNX graph with the same dense masked formulation as egnn/egnn.ts, operation for operation,
 * so ONNX Runtime computes the same eps_theta(z_t, t) to float32 rounding.
 *
 * Graph inputs (B molecules, N atom slots, symbolic):
 *   xh `[B, N, D]` normalised positions and features, t `[B, 1]`, node_mask `[B, N, 1]`,
 *   edge_mask `[B, N, N, 1]`, denoise_mask `[B, N, 1]`, and context `[B, N, C]` when the model
 *   has context channels. Output: eps `[B, N, D]`.
 * Weights are initializers (inference), or graph inputs named as params.ts names them (training,
 * train-export.ts, where they change every step). Weight slices the tfjs code takes at run time
 * (the edge MLP's first layer split into h_i, h_j and distance parts) are cut once here.
 *
 * The forward pass records the values the backward pass needs (`LayerTape`); the inference
 * export simply ignores them.
 */
import type { DynamicsConfig } from '../config.js';
import { type Params, paramShapes } from '../egnn/params.js';
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

/** SiLU's input, its sigmoid and its output (x * sigmoid(x)). */
export interface SiluTape {
  pre: string;
  sig: string;
  out: string;
}

/** The two SiLU layers of an edge MLP (`edge_mlp` or `coord_mlp`): `[B, N, N, H]` each. */
export interface EdgeMlpTape {
  /** node features `[B, N, H]` the first layer read */
  h: string;
  a1: SiluTape;
  a2: SiluTape;
}

/** One GCL (invariant sublayer). */
export interface GclTape {
  name: string;
  mlp: EdgeMlpTape;
  /** sigmoid of the attention logit `[B, N, N, 1]` (attention only) */
  attSig?: string;
  /** attention x edge mask, or the edge mask: `[B, N, N, 1]` */
  gate: string;
  /** aggregated messages `[B, N, H]` (after the normalisation factor) */
  agg: string;
  node: SiluTape;
}

/** The equivariant coordinate update. */
export interface CoordTape {
  name: string;
  mlp: EdgeMlpTape;
  /** tanh of the last layer's output `[B, N, N, 1]` (tanh only) */
  tanh?: string;
  /** phi x edge mask `[B, N, N, 1]` */
  phiMasked: string;
}

/** Pairwise geometry of a layer's input positions (coordDiff). */
export interface GeometryTape {
  /** x_i - x_j `[B, N, N, 3]` */
  d: string;
  /** sqrt(|d|^2 + 1e-8) `[B, N, N, 1]` */
  norm: string;
  /** norm + normConstant */
  den: string;
  /** d / den */
  diff: string;
  /** |d|^2 */
  radial: string;
}

/** Everything one equivariant block computed. */
export interface LayerTape {
  geometry: GeometryTape;
  /** [d_ij^2, d0_ij^2] `[B, N, N, 2]` */
  radials: string;
  gcls: GclTape[];
  coord: CoordTape;
}

/** Names of the network's graph inputs and its recorded forward pass. */
export interface ForwardTape {
  nodeMask: string;
  edgeMask: string;
  denoiseMask: string;
  /** input of the embedding `[B, N, F + 1 + C]` */
  embedIn: string;
  layers: LayerTape[];
  /** node features after the last block `[B, N, H]` */
  hLast: string;
  /** the network output `[B, N, D]` */
  eps: string;
}

/** The network, op by op (mirrors egnn.ts; see there for the why of each step). */
export class DynamicsGraph {
  readonly g = new GraphBuilder();
  /** host copies of the weights, each downloaded once (edge layers are cut in three slices) */
  private readonly host = new Map<string, Float32Array>();
  /** each weight (or row slice of one) made once: forward and backward passes share it */
  private readonly weights = new Map<string, string>();
  /** every parameter's shape, by name, in params.ts order */
  readonly shapes: Map<string, number[]>;

  /**
   * @param p weights to store as initializers, or `undefined` to take every weight as a graph
   *   input named after its parameter
   * @param inNodeNf embedding input width F + 1 + C (for the weight shapes)
   */
  constructor(
    private readonly p: Params | undefined,
    readonly cfg: DynamicsConfig,
    inNodeNf: number,
  ) {
    this.shapes = paramShapes(cfg, inNodeNf);
  }

  /** Shape of a parameter. @throws Error for an unknown name */
  shape(name: string): number[] {
    const s = this.shapes.get(name);
    if (!s) throw new Error(`ONNX export: weight ${name} is missing`);
    return s;
  }

  /** A weight, optionally rows [from, from + rows) of a `[in, out]` matrix (made once per slice). */
  w(name: string, from = 0, rows?: number, suffix = ''): string {
    const shape = this.shape(name);
    const r = rows ?? shape[0] - from;
    const key = `${name}[${from},${r}]`;
    let value = this.weights.get(key);
    if (!value) this.weights.set(key, (value = this.makeWeight(name, shape, from, r, suffix)));
    return value;
  }

  /** A weight as a graph input (sliced in the graph) or as an initializer (sliced here). */
  private makeWeight(name: string, shape: number[], from: number, r: number, suffix: string): string {
    if (!this.p) {
      // the whole weight is the graph input (declared once, through `w`'s memo); slices cut it
      if (shape.length === 1 || (from === 0 && r === shape[0])) return this.g.input(name, shape);
      return this.g.node('Slice', [this.w(name), this.g.ints([from]), this.g.ints([from + r]), this.g.ints([0])]);
    }
    const t = this.p[name];
    if (!t) throw new Error(`ONNX export: weight ${name} is missing`);
    let all = this.host.get(name);
    if (!all) this.host.set(name, (all = t.dataSync() as Float32Array));
    if (shape.length === 1) return this.g.weight(`${name}${suffix}`, Float32Array.from(all), [shape[0]]);
    const outDim = shape[1];
    return this.g.weight(`${name}${suffix}`, all.slice(from * outDim, (from + r) * outDim), [r, outDim]);
  }

  linear(x: string, name: string, bias = true): string {
    const y = this.g.node('MatMul', [x, this.w(`${name}.weight`)]);
    return bias ? this.g.node('Add', [y, this.w(`${name}.bias`)]) : y;
  }

  silu(x: string): SiluTape {
    const sig = this.g.node('Sigmoid', [x]);
    return { pre: x, sig, out: this.g.node('Mul', [x, sig]) };
  }

  /** `[B, N, N, 1]` squared distances and `[B, N, N, 3]` normalised differences (coordDiff). */
  coordDiff(x: string, normConstant: number): GeometryTape {
    const g = this.g;
    const d = g.node('Sub', [g.node('Unsqueeze', [x, g.ints([2])]), g.node('Unsqueeze', [x, g.ints([1])])]);
    const radial = g.node('ReduceSum', [g.node('Mul', [d, d]), g.ints([-1])], [['keepdims', 1]]);
    const norm = g.node('Sqrt', [g.node('Add', [radial, g.scalar(1e-8)])]);
    const den = g.node('Add', [norm, g.scalar(normConstant)]);
    return { d, norm, den, radial, diff: g.node('Div', [d, den]) };
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

  /** The two SiLU layers of an edge MLP (`prefix`.0 and `prefix`.2). */
  edgeMlp(h: string, radials: string, prefix: string): EdgeMlpTape {
    const a1 = this.silu(this.edgeFirstLayer(h, radials, `${prefix}.0`));
    const a2 = this.silu(this.linear(a1.out, `${prefix}.2`));
    return { h, a1, a2 };
  }

  /** Sum over neighbours j (axis 2), divided by the normalisation factor. */
  aggregate(m: string): string {
    const agg = this.g.node('ReduceSum', [m, this.g.ints([2])], [['keepdims', 0]]);
    return this.scaleByNormalization(agg);
  }

  /** x / normalization_factor (identity when it is 1). */
  scaleByNormalization(x: string): string {
    return this.cfg.normalizationFactor !== 1 ? this.g.node('Div', [x, this.g.scalar(this.cfg.normalizationFactor)]) : x;
  }

  gcl(name: string, h: string, radials: string, nodeMask: string, edgeMask: string): { out: string; tape: GclTape } {
    const g = this.g;
    const H = this.cfg.nf;
    const mlp = this.edgeMlp(h, radials, `${name}.edge_mlp`);
    const m = mlp.a2.out;
    const attSig = this.cfg.attention ? g.node('Sigmoid', [this.linear(m, `${name}.att_mlp.0`)]) : undefined;
    const gate = attSig ? g.node('Mul', [attSig, edgeMask]) : edgeMask;
    const agg = this.aggregate(g.node('Mul', [m, gate]));
    const w0 = `${name}.node_mlp.0`;
    const pre = g.node('Add', [
      g.node('Add', [g.node('MatMul', [h, this.w(`${w0}.weight`, 0, H, ':h')]), this.w(`${w0}.bias`)]),
      g.node('MatMul', [agg, this.w(`${w0}.weight`, H, H, ':agg')]),
    ]);
    const node = this.silu(pre);
    const upd = this.linear(node.out, `${name}.node_mlp.2`);
    return { out: g.node('Mul', [g.node('Add', [h, upd]), nodeMask]), tape: { name, mlp, attSig, gate, agg, node } };
  }

  coordUpdate(name: string, h: string, x: string, geometry: GeometryTape, radials: string, nodeMask: string, edgeMask: string, moveMask: string): { out: string; tape: CoordTape } {
    const g = this.g;
    const mlp = this.edgeMlp(h, radials, `${name}.coord_mlp`);
    let phi = this.linear(mlp.a2.out, `${name}.coord_mlp.4`, false);
    let tanh: string | undefined;
    if (this.cfg.tanh) {
      tanh = g.node('Tanh', [phi]);
      phi = g.node('Mul', [tanh, g.scalar(this.cfg.coordsRange)]);
    }
    const phiMasked = g.node('Mul', [phi, edgeMask]);
    const agg = this.aggregate(g.node('Mul', [geometry.diff, phiMasked]));
    // multiplying by a mask of ones is exact, so one graph serves with and without fixed atoms
    const out = g.node('Mul', [g.node('Add', [x, g.node('Mul', [agg, moveMask])]), nodeMask]);
    return { out, tape: { name, mlp, tanh, phiMasked } };
  }

  /** removeMeanWithMask: (v - sum(v m) / sum(m)) m over the atom axis. */
  removeMean(v: string, mask: string): string {
    const g = this.g;
    const n = g.node('ReduceSum', [mask, g.ints([1])], [['keepdims', 1]]);
    const mean = g.node('Div', [g.node('ReduceSum', [g.node('Mul', [v, mask]), g.ints([1])], [['keepdims', 1]]), n]);
    return g.node('Mul', [g.node('Sub', [v, mean]), mask]);
  }

  /** The whole network on new graph inputs (see the file comment). */
  forward(opts: DynamicsExportOptions): ForwardTape {
    const { g, cfg } = this;
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
    const parts = [hIn, tNode];
    if (context) parts.push(g.node('Mul', [context, nodeMask]));
    const embedIn = g.node('Concat', parts, [['axis', 2]]);
    let h = this.linear(embedIn, 'embedding');
    const radial0 = this.coordDiff(x0, 1).radial;
    let x = x0;
    const layers: LayerTape[] = [];
    for (let l = 0; l < cfg.nLayers; l++) {
      const geometry = this.coordDiff(x, cfg.normConstant);
      const radials = g.node('Concat', [geometry.radial, radial0], [['axis', 3]]);
      let hb = h;
      const gcls: GclTape[] = [];
      for (let s = 0; s < cfg.invSublayers; s++) {
        const r = this.gcl(`e_block_${l}.gcl_${s}`, hb, radials, nodeMask, edgeMask);
        hb = r.out;
        gcls.push(r.tape);
      }
      const c = this.coordUpdate(`e_block_${l}.gcl_equiv`, hb, x, geometry, radials, nodeMask, edgeMask, denoiseMask);
      x = c.out;
      h = g.node('Mul', [hb, nodeMask]);
      layers.push({ geometry, radials, gcls, coord: c.tape });
    }
    const hOut = g.node('Mul', [this.linear(h, 'embedding_out'), denoiseMask]);
    let vel = g.node('Mul', [g.node('Sub', [x, x0]), denoiseMask]);
    if (opts.centred) vel = this.removeMean(vel, denoiseMask);
    const eps = g.node('Concat', [vel, g.node('Slice', [hOut, g.ints([0]), g.ints([D - 3]), g.ints([2])])], [['axis', 2]]);
    return { nodeMask, edgeMask, denoiseMask, embedIn, layers, hLast: h, eps };
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
  const net = new DynamicsGraph(p, cfg, p['embedding.weight'].shape[0]);
  const tape = net.forward(opts);
  net.g.output(tape.eps, 'eps', ['B', 'N', opts.D]);
  const doc = `egnn_dynamics nf ${cfg.nf}, ${cfg.nLayers} layers, D ${opts.D}, context ${opts.contextNf}, centred ${opts.centred}`;
  return encodeModel(net.g.model('egnn_dynamics', doc));
}
