/**
 * The graph of a dense batch: which atoms are real, which pairs exchange messages, which atoms
 * are denoised (the rest are fixed context, e.g. pocket atoms or a kept fragment), and an
 * optional per-node context. One object travels from the batch to the network, the loss, the
 * likelihood bound and the sampler instead of separate masks.
 *
 * Row layout: in each molecule the denoised atoms come first, then the fixed atoms, then
 * padding. Hoogeboom et al. 2022 (EDM) denoise every atom; the fixed-context form follows
 * DiffSBDD (Schneuing et al. 2024, section 3: the pocket is fixed, its coordinates never move).
 */
import * as tf from '@tensorflow/tfjs';

/** Masks and context of a batch of B molecules padded to N atoms. */
export interface MolGraph {
  /** `[B, N, 1]` 1 for real atoms (denoised or fixed) */
  nodeMask: tf.Tensor3D;
  /** `[B, N, N, 1]` 1 where atom i takes a message from atom j */
  edgeMask: tf.Tensor4D;
  /**
   * `[B, N, 1]` 1 for atoms that are noised and denoised. The same tensor as `nodeMask` when no
   * atom is fixed, so the unconditional model runs exactly EDM's operations.
   */
  denoiseMask: tf.Tensor3D;
  /** `[B, N, 1]` 1 for fixed atoms (`nodeMask - denoiseMask`), when there are any */
  fixedMask?: tf.Tensor3D;
  /** real atoms per molecule (denoised + fixed) */
  nNodes: Int32Array;
  /** denoised atoms per molecule */
  nDenoised: Int32Array;
  /**
   * true: the denoised positions live in the centre-of-mass-free subspace ((n - 1) * 3 degrees of
   * freedom, EDM). false: fixed atoms set the frame, positions are free (n * 3, DiffSBDD's
   * conditional model).
   */
  centred: boolean;
  /** `[B, N, C]` per-node context (a per-molecule context is repeated over the atoms), or none */
  context?: tf.Tensor3D;
  /** host copy of `nodeMask`, `[B * N]` */
  hostNodeMask: Float32Array;
}

/** What a graph is built from, on the host. */
export interface GraphSpec {
  /** real atoms per molecule */
  nNodes: ArrayLike<number>;
  /** padded size (default: the largest molecule) */
  N?: number;
  /** fixed atoms per molecule, placed after the denoised ones (default none) */
  nFixed?: ArrayLike<number>;
  /** `[B * N * C]` per-node context, row-major */
  context?: Float32Array;
  /** context channels C (required with `context`) */
  contextDim?: number;
  /** with fixed atoms, whether positions are still kept centre-of-mass free (default false) */
  centred?: boolean;
}

/**
 * Edge mask of a fully connected graph over real atoms without self loops
 * (EDM qm9 utils get_adj_matrix, dense form).
 * @param nodeMask `[B, N, 1]`
 * @returns `[B, N, N, 1]`, 1 where i != j and both atoms are real
 */
export function edgeMaskFromNodeMask(nodeMask: tf.Tensor): tf.Tensor4D {
  return tf.tidy(() => {
    const n = nodeMask.shape[1]!;
    const pair = tf.mul(tf.expandDims(nodeMask, 2), tf.expandDims(nodeMask, 1)); // [B, N, N, 1]
    const noDiag = tf.sub(1, tf.eye(n)).reshape([1, n, n, 1]);
    return tf.mul(pair, noDiag) as tf.Tensor4D;
  });
}

/**
 * Build the graph of a batch.
 * @throws RangeError when a molecule has more atoms than N, fewer fixed atoms than 0, or the
 *   context length does not match `[B, N, C]`
 */
export function makeGraph(spec: GraphSpec): MolGraph {
  const B = spec.nNodes.length;
  const N = spec.N ?? Math.max(0, ...Array.from(spec.nNodes));
  const nNodes = Int32Array.from(spec.nNodes);
  const nFixed = spec.nFixed ? Int32Array.from(spec.nFixed) : new Int32Array(B);
  const mask = new Float32Array(B * N);
  const moving = new Float32Array(B * N);
  const nDenoised = new Int32Array(B);
  let anyFixed = false;
  for (let b = 0; b < B; b++) {
    if (nNodes[b] > N) throw new RangeError(`molecule ${b} has ${nNodes[b]} atoms, more than the padded size ${N}`);
    if (nFixed[b] < 0 || nFixed[b] > nNodes[b]) throw new RangeError(`molecule ${b}: ${nFixed[b]} fixed atoms of ${nNodes[b]}`);
    nDenoised[b] = nNodes[b] - nFixed[b];
    if (nFixed[b] > 0) anyFixed = true;
    for (let i = 0; i < nNodes[b]; i++) {
      mask[b * N + i] = 1;
      if (i < nDenoised[b]) moving[b * N + i] = 1;
    }
  }
  const nodeMask = tf.tensor3d(mask, [B, N, 1]);
  const denoiseMask = anyFixed ? tf.tensor3d(moving, [B, N, 1]) : nodeMask;
  const fixedMask = anyFixed ? tf.tensor3d(Float32Array.from(mask, (v, a) => v - moving[a]), [B, N, 1]) : undefined;
  let context: tf.Tensor3D | undefined;
  if (spec.context) {
    const C = spec.contextDim ?? 0;
    if (!(C > 0) || spec.context.length !== B * N * C) {
      throw new RangeError(`context has ${spec.context.length} values, expected [${B}, ${N}, ${C}]`);
    }
    context = tf.tensor3d(spec.context, [B, N, C]);
  }
  return {
    nodeMask,
    edgeMask: edgeMaskFromNodeMask(nodeMask),
    denoiseMask,
    fixedMask,
    nNodes,
    nDenoised,
    centred: anyFixed ? spec.centred ?? false : true,
    context,
    hostNodeMask: mask,
  };
}

/**
 * The graph of an unconditional batch from its node mask (EDM's node_mask), every atom denoised.
 * @param nodeMask `[B, N, 1]` with the real atoms of each row first
 * @throws RangeError when a row has padding before a real atom
 */
export function graphFromNodeMask(nodeMask: tf.Tensor): MolGraph {
  const [B, N] = nodeMask.shape as number[];
  const host = nodeMask.dataSync();
  const nNodes = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    while (nNodes[b] < N && host[b * N + nNodes[b]] === 1) nNodes[b]++;
    for (let i = nNodes[b]; i < N; i++) if (host[b * N + i] !== 0) throw new RangeError(`node mask row ${b}: real atom ${i} after padding`);
  }
  return makeGraph({ nNodes, N });
}

/** Whether some atoms of the graph are fixed context. */
export function hasFixedAtoms(g: MolGraph): boolean {
  return g.denoiseMask !== g.nodeMask;
}

/**
 * Degrees of freedom of the denoised positions per molecule: (n - 1) * 3 in the CoM-free
 * subspace (EDM subspace_dimensionality), n * 3 when fixed atoms set the frame.
 */
export function positionDof(g: MolGraph): Int32Array {
  return Int32Array.from(g.nDenoised, (n) => (g.centred ? (n - 1) * 3 : n * 3));
}

/** Free the graph's tensors. */
export function disposeGraph(g: MolGraph): void {
  const ts: tf.Tensor[] = [g.nodeMask, g.edgeMask];
  if (hasFixedAtoms(g)) ts.push(g.denoiseMask);
  if (g.fixedMask) ts.push(g.fixedMask);
  if (g.context) ts.push(g.context);
  tf.dispose(ts);
}
