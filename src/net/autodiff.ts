/**
 * Reverse-mode differentiation of an op graph (net/ir.ts): the gradient of a scalar with
 * respect to chosen values, appended to the same graph as new nodes, one rule per op and nothing
 * per layer. ONNX Runtime's npm package has no autodiff, so the training step's backward pass
 * is exported from here; tfjs autodiff of the same graph stays the independent oracle
 * (test/onnx-train.test.ts).
 *
 * Rules (g = d loss / d output): Linear y = x W + b gives dx = g W^T, dW = x^T g over all
 * leading axes, db = sum g; a broadcast in the forward pass is a sum in the backward pass
 * (`unbroadcast`); ReduceSum and Unsqueeze swap with a broadcast and Squeeze; Slice and Concat
 * swap with Pad and Slice. SiLU, y = x sigmoid(x) written as Sigmoid then Mul, gets its own rule
 * dx = g s (1 + x - y) (s = sigmoid(x), kept from the forward pass): four passes over an
 * edge-sized tensor where the two generic rules take six.
 *
 * A gradient may be narrower than its value: size 1 on axes the value has in full, standing for
 * its broadcast (the gradient of a sum over neighbours is the same for every neighbour). It is
 * materialised (`full`) only where a rule needs every element (a matrix product, a slice, a pad)
 * and for the results; elementwise rules broadcast it, which saves an edge-sized Expand and its
 * pass over memory per layer.
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

/** Whether two shapes are the same, axis by axis (symbolic sizes by name). */
const sameShape = (p: Dim[], q: Dim[]): boolean => p.length === q.length && p.every((d, i) => d === q[i]);

/** `grad` at the full shape of `v` (a narrow gradient broadcast, see the header). */
function full(g: OpGraph, grad: Value, v: Value): Value {
  return sameShape(grad.shape, v.shape) ? grad : g.expand(grad, v);
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
  // rules that read every element of the output's gradient
  if (spec.op === 'Linear' || spec.op === 'Slice' || spec.op === 'Concat') gy = full(g, gy, y);
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
      // the sign after the sum: on the smaller tensor
      return [needs(a) ? unbroadcast(g, gy, a.shape) : undefined, needs(b) ? g.times(unbroadcast(g, gy, b.shape), g.scalar(-1)) : undefined];
    case 'Mul':
      return [needs(a) ? unbroadcast(g, g.times(gy, b), a.shape) : undefined, needs(b) ? unbroadcast(g, g.times(gy, a), b.shape) : undefined];
    case 'Div':
      // d(a / b) = g / b da - g y / b db
      return [
        needs(a) ? unbroadcast(g, g.over(gy, b), a.shape) : undefined,
        needs(b) ? g.times(unbroadcast(g, g.over(g.times(gy, y), b), b.shape), g.scalar(-1)) : undefined,
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
      // narrow: broadcast by the rules that read it
      return [back];
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
    case 'Transpose': {
      // the inverse permutation: input axis perm[i] came from output axis i
      const inverse = new Array<number>(spec.perm.length);
      spec.perm.forEach((p, i) => (inverse[p] = i));
      return [g.transpose(full(g, gy, y), inverse)];
    }
    default:
      throw new Error(`autodiff: no rule for ${spec.op}`);
  }
}

/**
 * The sigmoid s of a SiLU node y = x * s with s = Sigmoid(x) used by nothing else, or undefined.
 * @param producer the node making each value; uses how many nodes read each value
 */
function siluSigmoid(node: OpNode, producer: Map<number, OpNode>, uses: Map<number, number>): Value | undefined {
  if (node.spec.op !== 'Mul') return undefined;
  const [x, s] = node.inputs;
  const p = producer.get(s.id);
  return p?.spec.op === 'Sigmoid' && p.inputs[0].id === x.id && uses.get(s.id) === 1 ? s : undefined;
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
  const producer = new Map(forward.map((n) => [n.output.id, n]));
  const uses = new Map<number, number>();
  for (const n of forward) for (const v of n.inputs) uses.set(v.id, (uses.get(v.id) ?? 0) + 1);
  for (let i = forward.length - 1; i >= 0; i--) {
    const node = forward[i];
    const gy = grad.get(node.output.id);
    if (!gy || !needs(node.output)) continue;
    const s = siluSigmoid(node, producer, uses);
    if (s) {
      // SiLU: d/dx [x s(x)] = s (1 + x - y); the sigmoid gets no gradient of its own
      const [x] = node.inputs;
      accumulate(x, g.times(gy, g.times(s, g.plus(g.minus(x, node.output), g.scalar(1)))));
      continue;
    }
    const gins = rule(g, node, gy, needs);
    node.inputs.forEach((v, k) => {
      if (gins[k] && needs(v)) accumulate(v, gins[k]!);
    });
  }
  const out = new Map<Value, Value>();
  for (const v of wrt) {
    const d = grad.get(v.id);
    if (!d) throw new Error(`autodiff: ${v.name ?? `value ${v.id}`} does not reach the loss`);
    out.set(v, full(g, d, v));
  }
  return out;
}
