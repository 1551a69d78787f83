/**
 * Run an op graph (net/ir.ts) on tfjs: each op as the tfjs op of the same arithmetic, so tfjs
 * autodiff of a run is an independent check of the exported backward pass. Dense layers go
 * through net/linear.ts (its fast gradient on the WebAssembly backend).
 */
import * as tf from '@tensorflow/tfjs';
import { linear } from './linear.js';
import type { OpGraph, OpNode, Value } from './ir.js';

/** What one run is given and what it returns. */
export interface RunOptions {
  /** free every intermediate once its last user has run (no gradient will be taken) */
  inference?: boolean;
}

/** The last node index that reads each value (for freeing intermediates in inference). */
const lastUses = new WeakMap<OpGraph, Map<number, number>>();
function lastUseOf(graph: OpGraph): Map<number, number> {
  let m = lastUses.get(graph);
  if (!m) {
    m = new Map();
    graph.nodes.forEach((n, i) => n.inputs.forEach((v) => m!.set(v.id, i)));
    lastUses.set(graph, m);
  }
  return m;
}

function runNode(n: OpNode, x: tf.Tensor[]): tf.Tensor {
  const { spec } = n;
  const rank = x[0].rank;
  const axis = (a: number, r = rank): number => (a < 0 ? a + r : a);
  switch (spec.op) {
    case 'Linear':
      return linear(x[0], x[1], x[2]);
    case 'Add':
      return tf.add(x[0], x[1]);
    case 'Sub':
      return tf.sub(x[0], x[1]);
    case 'Mul':
      return tf.mul(x[0], x[1]);
    case 'Div':
      return tf.div(x[0], x[1]);
    case 'Sigmoid':
      return tf.sigmoid(x[0]);
    case 'Tanh':
      return tf.tanh(x[0]);
    case 'Sqrt':
      return tf.sqrt(x[0]);
    case 'ReduceSum':
      return tf.sum(x[0], spec.axes, spec.keepdims);
    case 'Unsqueeze':
      return tf.expandDims(x[0], axis(spec.axis, rank + 1));
    case 'Squeeze':
      return tf.squeeze(x[0], [axis(spec.axis)]);
    case 'Slice': {
      const begin = new Array<number>(rank).fill(0);
      const size = new Array<number>(rank).fill(-1);
      begin[axis(spec.axis)] = spec.start;
      size[axis(spec.axis)] = spec.end - spec.start;
      return tf.slice(x[0], begin, size);
    }
    case 'Concat':
      return tf.concat(x, axis(spec.axis));
    case 'Expand':
      return tf.broadcastTo(x[0], x[1].shape);
    case 'Transpose':
      return tf.transpose(x[0], spec.perm);
    case 'Pad': {
      const pads = Array.from({ length: rank }, (_, i): [number, number] => (i === axis(spec.axis) ? [spec.before, spec.after] : [0, 0]));
      return tf.pad(x[0], pads);
    }
    case 'Flatten':
      return tf.reshape(x[0], [-1, spec.cols]);
    case 'MatMulBT': {
      const lead = x[0].shape.slice(0, -1);
      const y = tf.matMul(tf.reshape(x[0], [-1, x[0].shape[rank - 1]]), tf.transpose(x[1]));
      return tf.reshape(y, [...lead, x[1].shape[0]]);
    }
    case 'MatMulAT':
      return tf.matMul(tf.transpose(x[0]), x[1]);
  }
}

/**
 * Evaluate `outputs` of a graph.
 * @param feeds a tensor for every graph input, by name
 * @param params a tensor for every parameter the outputs need, by name
 * @returns the outputs' tensors (the caller owns them; with `inference`, every other tensor made
 *   here is freed, else they are left to the caller's tidy scope, for autodiff)
 * @throws Error naming a missing input or parameter
 */
export function runGraph(graph: OpGraph, outputs: Value[], feeds: Record<string, tf.Tensor>, params: Record<string, tf.Tensor>, opts: RunOptions = {}): tf.Tensor[] {
  const values = new Map<number, tf.Tensor>();
  const owned = new Set<number>();
  for (const v of graph.inputs) {
    const t = feeds[v.name!];
    if (t) values.set(v.id, t);
  }
  const needed = graph.neededFor(outputs);
  const keep = new Set(outputs.map((o) => o.id));
  const last = lastUseOf(graph);
  const get = (v: Value): tf.Tensor => {
    let t = values.get(v.id);
    if (t) return t;
    if (v.kind === 'param') t = params[v.name!];
    else if (v.kind === 'const') {
      t = tf.scalar(v.constant!);
      owned.add(v.id);
    }
    if (!t) throw new Error(`op graph run: ${v.kind} ${v.name ?? v.id} is not given`);
    values.set(v.id, t);
    return t;
  };
  graph.nodes.forEach((n, i) => {
    if (!needed.has(n.output.id)) return;
    values.set(n.output.id, runNode(n, n.inputs.map(get)));
    owned.add(n.output.id);
    if (!opts.inference) return;
    for (const v of n.inputs) {
      if (owned.has(v.id) && !keep.has(v.id) && last.get(v.id) === i && v.kind !== 'const') {
        values.get(v.id)!.dispose();
        values.delete(v.id);
      }
    }
  });
  if (opts.inference) for (const id of owned) if (!keep.has(id) && values.has(id)) values.get(id)!.dispose();
  return outputs.map((o) => get(o));
}
