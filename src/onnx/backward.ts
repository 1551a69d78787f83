/**
 * The gradient of EDM's L2 training loss with respect to every weight of `egnn_dynamics`, as
 * ONNX nodes appended to the forward graph of export.ts (reverse-mode differentiation written
 * out by hand: ONNX Runtime's npm package has no autodiff).
 *
 * Conventions: `g_v` is d loss / d v, same shape as v. Dense layers y = x W + b (W `[in, out]`)
 * give dW = x^T g (over all leading axes), db = sum g, dx = g W^T. SiLU y = p s, s = sigmoid(p)
 * gives dp = g s (1 + p (1 - s)). A broadcast in the forward pass is a sum in the backward
 * pass. tfjs autodiff of egnn.ts is the oracle (test/onnx-train.test.ts).
 */
import type { CoordTape, DynamicsGraph, EdgeMlpTape, ForwardTape, GclTape, GeometryTape, LayerTape, SiluTape } from './export.js';

/** Builds the backward pass of one forward tape; `grads` collects d loss / d weight by name. */
export class Backward {
  readonly grads = new Map<string, string>();
  private readonly transposed = new Map<string, string>();

  constructor(
    private readonly net: DynamicsGraph,
    private readonly tape: ForwardTape,
  ) {}

  private get g() {
    return this.net.g;
  }

  private op(type: string, inputs: string[], attrs: [string, number | number[]][] = []): string {
    return this.g.node(type, inputs, attrs);
  }

  /** x @ W^T for a weight (or weight slice) `[in, out]`: `[..., out]` -> `[..., in]`. */
  private matmulT(x: string, weight: string): string {
    let wt = this.transposed.get(weight);
    if (!wt) this.transposed.set(weight, (wt = this.op('Transpose', [weight], [['perm', [1, 0]]])));
    return this.op('MatMul', [x, wt]);
  }

  /** x^T g summed over every leading axis: `[in, out]`. */
  private weightGrad(x: string, gy: string, inDim: number, outDim: number): string {
    const x2 = this.op('Reshape', [x, this.g.ints([-1, inDim])]);
    const g2 = this.op('Reshape', [gy, this.g.ints([-1, outDim])]);
    return this.op('Gemm', [x2, g2], [['transA', 1]]);
  }

  /** sum of g over every leading axis: `[out]`. */
  private biasGrad(gy: string, outDim: number): string {
    return this.op('ReduceSum', [this.op('Reshape', [gy, this.g.ints([-1, outDim])]), this.g.ints([0])], [['keepdims', 0]]);
  }

  private siluGrad(gy: string, a: SiluTape): string {
    const oneMinus = this.op('Sub', [this.g.scalar(1), a.sig]);
    const slope = this.op('Mul', [a.sig, this.op('Add', [this.g.scalar(1), this.op('Mul', [a.pre, oneMinus])])]);
    return this.op('Mul', [gy, slope]);
  }

  private set(name: string, grad: string): void {
    if (this.grads.has(name)) throw new Error(`ONNX backward: two gradients for ${name}`);
    this.grads.set(name, grad);
  }

  /** Back through a dense layer `name` (weight and bias gradients recorded). @returns d x */
  private linear(x: string, gy: string, name: string, bias = true): string {
    const [inDim, outDim] = this.net.shape(`${name}.weight`);
    this.set(`${name}.weight`, this.weightGrad(x, gy, inDim, outDim));
    if (bias) this.set(`${name}.bias`, this.biasGrad(gy, outDim));
    return this.matmulT(gy, this.net.w(`${name}.weight`));
  }

  /**
   * Back through an edge MLP's two SiLU layers and its node-wise first layer.
   * @param gm d loss / d (second SiLU output) `[B, N, N, H]`
   * @returns d h `[B, N, H]` and d radials `[B, N, N, 2]`
   */
  private edgeMlp(gm: string, t: EdgeMlpTape, radials: string, prefix: string): { gh: string; gRadials: string } {
    const H = this.net.cfg.nf;
    const gp2 = this.siluGrad(gm, t.a2);
    const gm1 = this.linear(t.a1.out, gp2, `${prefix}.2`);
    const gp1 = this.siluGrad(gm1, t.a1);
    // p1_ij = r_ij Wr + (h Wi + b)_i + (h Wj)_j: the broadcasts over j and i become sums
    const ghi = this.op('ReduceSum', [gp1, this.g.ints([2])], [['keepdims', 0]]);
    const ghj = this.op('ReduceSum', [gp1, this.g.ints([1])], [['keepdims', 0]]);
    const w = `${prefix}.0.weight`;
    this.set(w, this.op('Concat', [this.weightGrad(t.h, ghi, H, H), this.weightGrad(t.h, ghj, H, H), this.weightGrad(radials, gp1, 2, H)], [['axis', 0]]));
    this.set(`${prefix}.0.bias`, this.biasGrad(ghi, H));
    const gh = this.op('Add', [this.matmulT(ghi, this.net.w(w, 0, H)), this.matmulT(ghj, this.net.w(w, H, H))]);
    return { gh, gRadials: this.matmulT(gp1, this.net.w(w, 2 * H, 2)) };
  }

  /** Back through a GCL. @param gOut d loss / d its output `[B, N, H]` */
  private gcl(gOut: string, t: GclTape, radials: string): { gh: string; gRadials: string } {
    const H = this.net.cfg.nf;
    const { nodeMask, edgeMask } = this.tape;
    const gs = this.op('Mul', [gOut, nodeMask]);
    const gNode = this.linear(t.node.out, gs, `${t.name}.node_mlp.2`);
    const gPre = this.siluGrad(gNode, t.node);
    const w0 = `${t.name}.node_mlp.0`;
    this.set(`${w0}.weight`, this.op('Concat', [this.weightGrad(t.mlp.h, gPre, H, H), this.weightGrad(t.agg, gPre, H, H)], [['axis', 0]]));
    this.set(`${w0}.bias`, this.biasGrad(gPre, H));
    let gh = this.op('Add', [gs, this.matmulT(gPre, this.net.w(`${w0}.weight`, 0, H))]);
    const gAgg = this.net.scaleByNormalization(this.matmulT(gPre, this.net.w(`${w0}.weight`, H, H)));
    // agg_i = sum_j m_ij gate_ij: every j gets d agg_i
    const gMsg = this.op('Unsqueeze', [gAgg, this.g.ints([2])]); // [B, N, 1, H]
    let gm = this.op('Mul', [gMsg, t.gate]);
    if (t.attSig) {
      const m = t.mlp.a2.out;
      const gGate = this.op('ReduceSum', [this.op('Mul', [gMsg, m]), this.g.ints([-1])], [['keepdims', 1]]);
      const sigSlope = this.op('Mul', [t.attSig, this.op('Sub', [this.g.scalar(1), t.attSig])]);
      const gLogit = this.op('Mul', [this.op('Mul', [gGate, edgeMask]), sigSlope]);
      gm = this.op('Add', [gm, this.linear(m, gLogit, `${t.name}.att_mlp.0`)]);
    }
    const e = this.edgeMlp(gm, t.mlp, radials, `${t.name}.edge_mlp`);
    return { gh: this.op('Add', [gh, e.gh]), gRadials: e.gRadials };
  }

  /**
   * Back through the coordinate update x' = (x + moveMask sum_j diff_ij phi_ij e_ij / Z) nodeMask.
   * @returns d x (direct path), d diff, d h, d radials
   */
  private coord(gx: string, t: CoordTape, geometry: GeometryTape, radials: string): { gx: string; gDiff: string; gh: string; gRadials: string } {
    const { nodeMask, edgeMask, denoiseMask } = this.tape;
    const gxPre = this.op('Mul', [gx, nodeMask]);
    const gTrans = this.op('Unsqueeze', [this.net.scaleByNormalization(this.op('Mul', [gxPre, denoiseMask])), this.g.ints([2])]); // [B, N, 1, 3]
    const gDiff = this.op('Mul', [gTrans, t.phiMasked]);
    let gPhi = this.op('Mul', [this.op('ReduceSum', [this.op('Mul', [gTrans, geometry.diff]), this.g.ints([-1])], [['keepdims', 1]]), edgeMask]);
    if (t.tanh) {
      const slope = this.op('Mul', [this.g.scalar(this.net.cfg.coordsRange), this.op('Sub', [this.g.scalar(1), this.op('Mul', [t.tanh, t.tanh])])]);
      gPhi = this.op('Mul', [gPhi, slope]);
    }
    const gm = this.linear(t.mlp.a2.out, gPhi, `${t.name}.coord_mlp.4`, false);
    const e = this.edgeMlp(gm, t.mlp, radials, `${t.name}.coord_mlp`);
    return { gx: gxPre, gDiff, gh: e.gh, gRadials: e.gRadials };
  }

  /**
   * Back through coordDiff: radial = |d|^2, diff = d / (sqrt(radial + 1e-8) + c), d = x_i - x_j.
   * @returns d x `[B, N, 3]`
   */
  private geometry(gDiff: string, gRadial: string, t: GeometryTape): string {
    const gDen = this.op('Div', [this.op('Neg', [this.op('ReduceSum', [this.op('Mul', [gDiff, t.diff]), this.g.ints([-1])], [['keepdims', 1]])]), t.den]);
    const gRadialAll = this.op('Add', [gRadial, this.op('Div', [this.op('Mul', [gDen, this.g.scalar(0.5)]), t.norm])]);
    const gd = this.op('Add', [this.op('Div', [gDiff, t.den]), this.op('Mul', [this.op('Mul', [t.d, this.g.scalar(2)]), gRadialAll])]);
    return this.op('Sub', [this.op('ReduceSum', [gd, this.g.ints([2])], [['keepdims', 0]]), this.op('ReduceSum', [gd, this.g.ints([1])], [['keepdims', 0]])]);
  }

  /** Back through one equivariant block. @returns d (its input h), d (its input x) unless first */
  private layer(gh: string, gx: string, t: LayerTape, first: boolean): { gh: string; gx?: string } {
    const c = this.coord(gx, t.coord, t.geometry, t.radials);
    let ghb = this.op('Add', [this.op('Mul', [gh, this.tape.nodeMask]), c.gh]);
    let gRadials = c.gRadials;
    for (let s = t.gcls.length - 1; s >= 0; s--) {
      const r = this.gcl(ghb, t.gcls[s], t.radials);
      ghb = r.gh;
      gRadials = this.op('Add', [gRadials, r.gRadials]);
    }
    if (first) return { gh: ghb };
    // radials = [d_ij^2 of this block, d0_ij^2 of the input]: only the first depends on weights
    const gRadial = this.op('Slice', [gRadials, this.g.ints([0]), this.g.ints([1]), this.g.ints([3])]);
    return { gh: ghb, gx: this.op('Add', [c.gx, this.geometry(c.gDiff, gRadial, t.geometry)]) };
  }

  /**
   * The whole backward pass.
   * @param gEps d loss / d eps_theta `[B, N, D]`
   * @param D width of xh; @param centred as the forward graph
   */
  run(gEps: string, D: number, centred: boolean): void {
    const { g, net, tape } = this;
    const [inNodeNf] = net.shape('embedding.weight');
    // eps = [vel, hOut[..., :D - 3]]: the time and context columns of hOut get no gradient
    const gVel = this.op('Slice', [gEps, g.ints([0]), g.ints([3]), g.ints([2])]);
    const gHOutPart = this.op('Slice', [gEps, g.ints([3]), g.ints([D]), g.ints([2])]);
    const gHOut = this.op('Mul', [this.op('Pad', [gHOutPart, g.ints([0, 0, 0, 0, 0, inNodeNf - (D - 3)])]), tape.denoiseMask]);
    let gh = this.linear(tape.hLast, gHOut, 'embedding_out');
    // removeMeanWithMask is a symmetric projection: its adjoint is itself
    const gMoved = centred ? net.removeMean(gVel, tape.denoiseMask) : gVel;
    let gx: string | undefined = this.op('Mul', [gMoved, tape.denoiseMask]);
    for (let l = tape.layers.length - 1; l >= 0; l--) {
      ({ gh, gx } = this.layer(gh, gx!, tape.layers[l], l === 0));
    }
    this.linear(tape.embedIn, gh, 'embedding');
  }
}
