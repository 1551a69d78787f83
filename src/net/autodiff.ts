/**
 * Reverse-mode differentiation of an op graph (net/ir.ts): the gradient of a scalar with
 * respect to chosen values, appended to the same graph as new nodes, one rule per op and nothing
 * per layer. ONNX Runtime's npm package has no autodiff, so the training step's backward pass
 * is exported from here; tfjs autodiff of the same graph stays the independent oracle
 * (test/onnx-train.test.ts).
 *
 * Rules (g = d loss / d output, same shape as the output): Linear y = x W + b gives dx = g W^T,
 * dW = x^T g over all leading axes, db = sum g; a broadcast in the forward pass is a sum in the
 * backward pass (`unbroadcast`); ReduceSum and Unsqueeze swap with Expand and Squeeze; Slice and
 * Concat swap with Pad and Slice.
 */
import { type Dim, OpGraph, type OpNode, type Value } from './ir.js';

/**
 * Sum `grad` (shaped like a broadcast result) down to `shape`: over the leading axes `shape`
 * lacks, then (keeping them) over the axes where `shape` has 1 and the result does not.
 */
function unbroadcast(g: OpGraph, grad: Value, shape: Dim[]): Value {
  let out = grad;
  const lead = out.shape.length - shape.length;
  if (lead > 0) out = g.sum(out, Array.from({ length: lead }, (_, i) => i), false);
  const axes = shape.flatMap((d, i) => (d === 1 && out.shape[i] !== 1 ? [i] : []));
  return axes.length ? g.sum(out, axes, true) : out;
}

/** A static size of an axis. @throws Error when it is symbolic */
function staticDim(v: Value, axis: number, op: string): number {
  const d = v.shape[axis];
  if (typeof d !== 'number') throw new Error(`autodiff: ${op} needs a fixed size on axis ${axis} of [${v.shape}]`);
  return d;
}

/** The gradients a node's inputs receive from the gradient of its output (undefined: none). */
function rule(g: OpGraph, node: OpNode, gy: Value, needs: (v: Value) => boolean): (Value | undefined)[] {
  const { spec, inputs: ins, output: y } = node;
  const [a, b] = ins;
  const axisOf = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);
  switch (spec.op) {
    case 'Linear': {
      const K = staticDim(b, 0, 'Linear');
      const M = staticDim(b, 1, 'Linear');
      const gy2 = ins.slice(1).some(needs) ? g.add({ op: 'Flatten', cols: M }, [gy]) : undefined;
      return [
        needs(a) ? g.add({ op: 'MatMulBT' }, [gy, b]) : undefined,
        needs(b) ? g.add({ op: 'MatMulAT' }, [g.add({ op: 'Flatten', cols: K }, [a]), gy2!]) : undefined,
        ins[2] && needs(ins[2]) ? g.sum(gy2!, [0], false) : undefined,
      ];
    }
    case 'Add':
      return [needs(a) ? unbroadcast(g, gy, a.shape) : undefined, needs(b) ? unbroadcast(g, gy, b.shape) : undefined];
    case 'Sub':
      return [needs(a) ? unbroadcast(g, gy, a.shape) : undefined, needs(b) ? unbroadcast(g, g.times(gy, g.scalar(-1)), b.shape) : undefined];
    case 'Mul':
      return [needs(a) ? unbroadcast(g, g.times(gy, b), a.shape) : undefined, needs(b) ? unbroadcast(g, g.times(gy, a), b.shape) : undefined];
    case 'Div':
      // d(a / b) = g / b da - g y / b db
      return [
        needs(a) ? unbroadcast(g, g.over(gy, b), a.shape) : undefined,
        needs(b) ? unbroadcast(g, g.times(g.over(g.times(gy, y), b), g.scalar(-1)), b.shape) : undefined,
      ];
    case 'Sigmoid':
      return [g.times(gy, g.times(y, g.minus(g.scalar(1), y)))];
    case 'Tanh':
      return [g.times(gy, g.minus(g.scalar(1), g.times(y, y)))];
    case 'Sqrt':
      return [g.over(g.times(gy, g.scalar(0.5)), y)];
    case 'ReduceSum': {
      let back = gy;
      if (!spec.keepdims) for (const axis of spec.axes.map((x) => axisOf(x, a.shape.length)).sort((p, q) => p - q)) back = g.unsqueeze(back, axis);
      return [g.expand(back, a)];
    }
    case 'Unsqueeze':
      return [g.add({ op: 'Squeeze', axis: axisOf(spec.axis, y.shape.length) }, [gy])];
    case 'Slice': {
      const axis = axisOf(spec.axis, a.shape.length);
      return [g.add({ op: 'Pad', axis, before: spec.start, after: staticDim(a, axis, 'Slice') - spec.end }, [gy])];
    }
    case 'Concat': {
      const axis = axisOf(spec.axis, y.shape.length);
      let off = 0;
      return ins.map((v) => {
        const size = staticDim(v, axis, 'Concat');
        const part = needs(v) ? g.slice(gy, axis, off, off + size) : undefined;
        off += size;
        return part;
      });
    }
    case 'Expand':
      return [needs(a) ? unbroadcast(g, gy, a.shape) : undefined, undefined];
    default:
      throw new Error(`autodiff: no rule for ${spec.op}`);
  }
}

/**
 * Append to `g` the gradient of the scalar `loss` with respect to each of `wrt`.
 * @returns d loss / d v for every v of `wrt`, shaped like v (a zero-free graph: every v must
 *   reach the loss)
 * @throws Error when the loss is not a scalar, an op has no rule, or some v does not reach the loss
 */
export function gradients(g: OpGraph, loss: Value, wrt: Value[]): Map<Value, Value> {
  if (loss.shape.length !== 0) throw new Error(`autodiff: the loss must be a scalar, got [${loss.shape}]`);
  const forward = [...g.nodes];
  // values that depend on a value of `wrt`: only their gradients are built
  const depends = new Set<number>(wrt.map((v) => v.id));
  for (const n of forward) if (n.inputs.some((v) => depends.has(v.id))) depends.add(n.output.id);
  const needs = (v: Value): boolean => depends.has(v.id);
  const grad = new Map<number, Value>([[loss.id, g.scalar(1)]]);
  const accumulate = (v: Value, d: Value): void => {
    const old = grad.get(v.id);
    grad.set(v.id, old ? g.plus(old, d) : d);
  };
  for (let i = forward.length - 1; i >= 0; i--) {
    const node = forward[i];
    const gy = grad.get(node.output.id);
    if (!gy || !needs(node.output)) continue;
    const gins = rule(g, node, gy, needs);
    node.inputs.forEach((v, k) => {
      if (gins[k] && needs(v)) accumulate(v, gins[k]!);
    });
  }
  const out = new Map<Value, Value>();
  for (const v of wrt) {
    const d = grad.get(v.id);
    if (!d) throw new Error(`autodiff: ${v.name ?? `value ${v.id}`} does not reach the loss`);
    out.set(v, d);
  }
  return out;
}
