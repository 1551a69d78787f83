/**
 * A small typed op graph: the one place a network is written down. Values have symbolic shapes
 * (`B`, `N` or sizes), parameters are named, and every op has a shape rule. The same graph is
 * exported to ONNX (onnx/emit.ts), differentiated by reverse mode (net/autodiff.ts) and run on
 * tfjs (net/tfjs-run.ts), so a change to the network is made once.
 */

/** A dimension: a fixed size or a symbolic name such as `B`. */
export type Dim = number | string;

/** Ops of the graph. Forward networks use the first group; autodiff adds the second. */
export type OpSpec =
  /** x `[..., K]` W `[K, M]` (+ b `[M]`) -> `[..., M]` */
  | { op: 'Linear' }
  /** numpy broadcasting (equal ranks, or a lower-rank operand aligned right) */
  | { op: 'Add' | 'Sub' | 'Mul' | 'Div' }
  | { op: 'Sigmoid' | 'Tanh' | 'Sqrt' }
  | { op: 'ReduceSum'; axes: number[]; keepdims: boolean }
  | { op: 'Unsqueeze'; axis: number }
  | { op: 'Slice'; axis: number; start: number; end: number }
  | { op: 'Concat'; axis: number }
  /** x broadcast to the shape of the second input (only its shape is read) */
  | { op: 'Expand' }
  /** axes permuted: output axis i is input axis perm[i] */
  | { op: 'Transpose'; perm: number[] }
  // ops that reverse mode adds
  | { op: 'Squeeze'; axis: number }
  /** zeros before and after along one axis */
  | { op: 'Pad'; axis: number; before: number; after: number }
  /** to `[rows, cols]` */
  | { op: 'Flatten'; cols: number }
  /** a `[..., M]` @ b^T with b `[K, M]` 2-D -> `[..., K]` */
  | { op: 'MatMulBT' }
  /** a^T b for 2-D a `[R, K]`, b `[R, M]` -> `[K, M]` */
  | { op: 'MatMulAT' };

/** A value of the graph. */
export interface Value {
  readonly id: number;
  readonly shape: Dim[];
  readonly kind: 'input' | 'param' | 'const' | 'node';
  /** graph input or parameter name */
  readonly name?: string;
  /** a scalar constant's value */
  readonly constant?: number;
}

/** A node: one op, its inputs and its output. */
export interface OpNode {
  readonly spec: OpSpec;
  readonly inputs: Value[];
  readonly output: Value;
}

const rankOf = (v: Value): number => v.shape.length;
const norm = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

/** One dimension of a broadcast result. @throws Error when the sizes cannot broadcast */
function broadcastDim(a: Dim, b: Dim, what: string): Dim {
  if (a === b || b === 1) return a;
  if (a === 1) return b;
  throw new Error(`op graph: ${what}: dimensions ${a} and ${b} do not broadcast`);
}

/** The shape of a broadcast of two shapes (aligned right). */
export function broadcastShape(a: Dim[], b: Dim[], what: string): Dim[] {
  const r = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[i - (r - a.length)] ?? 1;
    const db = b[i - (r - b.length)] ?? 1;
    out.push(broadcastDim(da, db, what));
  }
  return out;
}

/** Sum of two dimensions (symbolic when either is). */
const addDims = (a: Dim, b: Dim): Dim => (typeof a === 'number' && typeof b === 'number' ? a + b : `${a}+${b}`);

/**
 * Builds a graph op by op, checking shapes as it goes. Scalar constants and parameters are
 * made once per value or name.
 */
export class OpGraph {
  readonly nodes: OpNode[] = [];
  readonly inputs: Value[] = [];
  readonly params = new Map<string, Value>();
  private readonly consts = new Map<number, Value>();
  private next = 0;

  private value(shape: Dim[], kind: Value['kind'], extra: { name?: string; constant?: number } = {}): Value {
    return { id: this.next++, shape, kind, ...extra };
  }

  /** A data input (fed at run time). */
  input(name: string, shape: Dim[]): Value {
    const v = this.value(shape, 'input', { name });
    this.inputs.push(v);
    return v;
  }

  /** A named parameter (weights `[in, out]`, biases `[out]`); declared once. */
  param(name: string, shape: number[]): Value {
    const old = this.params.get(name);
    if (old) {
      if (old.shape.join() !== shape.join()) throw new Error(`op graph: parameter ${name} declared as [${old.shape}] and [${shape}]`);
      return old;
    }
    const v = this.value(shape, 'param', { name });
    this.params.set(name, v);
    return v;
  }

  /** A float32 scalar constant. */
  scalar(x: number): Value {
    let v = this.consts.get(x);
    if (!v) this.consts.set(x, (v = this.value([], 'const', { constant: x })));
    return v;
  }

  /**
   * Ids of the values `outputs` depend on (nodes of the graph to run or emit for them), made once
   * per set of outputs and cached: runs on the denoising loop's path ask for it every step.
   */
  neededFor(outputs: Value[]): Set<number> {
    const key = outputs.map((o) => o.id).join(',');
    let needed = this.needed.get(key);
    if (needed && this.neededAt.get(key) === this.nodes.length) return needed;
    needed = new Set(outputs.map((o) => o.id));
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i];
      if (needed.has(n.output.id)) for (const v of n.inputs) needed.add(v.id);
    }
    this.needed.set(key, needed);
    this.neededAt.set(key, this.nodes.length);
    return needed;
  }
  private readonly needed = new Map<string, Set<number>>();
  /** graph size when each cached set was made (appending nodes makes it stale) */
  private readonly neededAt = new Map<string, number>();

  /** Append a node; its output shape follows from the op's rule. @throws Error for shapes that do not fit */
  add(spec: OpSpec, inputs: Value[]): Value {
    const out = this.value(this.shapeOf(spec, inputs), 'node');
    this.nodes.push({ spec, inputs, output: out });
    return out;
  }

  private shapeOf(spec: OpSpec, ins: Value[]): Dim[] {
    const [a, b] = ins;
    switch (spec.op) {
      case 'Linear': {
        const K = a.shape[rankOf(a) - 1];
        if (b.shape.length !== 2 || b.shape[0] !== K) throw new Error(`op graph: Linear of [${a.shape}] by [${b.shape}]`);
        if (ins[2] && ins[2].shape.join() !== String(b.shape[1])) throw new Error(`op graph: Linear bias [${ins[2].shape}] for [${b.shape}]`);
        return [...a.shape.slice(0, -1), b.shape[1]];
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
        return broadcastShape(a.shape, b.shape, spec.op);
      case 'Sigmoid':
      case 'Tanh':
      case 'Sqrt':
        return a.shape;
      case 'ReduceSum': {
        const axes = spec.axes.map((x) => norm(x, rankOf(a)));
        return spec.keepdims ? a.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : a.shape.filter((_, i) => !axes.includes(i));
      }
      case 'Unsqueeze': {
        const s = [...a.shape];
        s.splice(norm(spec.axis, rankOf(a) + 1), 0, 1);
        return s;
      }
      case 'Squeeze': {
        const axis = norm(spec.axis, rankOf(a));
        if (a.shape[axis] !== 1) throw new Error(`op graph: Squeeze of axis ${axis} of [${a.shape}]`);
        return a.shape.filter((_, i) => i !== axis);
      }
      case 'Slice': {
        const axis = norm(spec.axis, rankOf(a));
        const size = a.shape[axis];
        if (!(spec.start >= 0 && spec.end > spec.start && (typeof size !== 'number' || spec.end <= size))) throw new Error(`op graph: Slice [${spec.start}, ${spec.end}) of axis ${axis} of [${a.shape}]`);
        return a.shape.map((d, i) => (i === axis ? spec.end - spec.start : d));
      }
      case 'Pad': {
        const axis = norm(spec.axis, rankOf(a));
        return a.shape.map((d, i) => (i === axis ? addDims(addDims(d, spec.before), spec.after) : d));
      }
      case 'Concat': {
        const axis = norm(spec.axis, rankOf(a));
        return a.shape.map((d, i) => (i === axis ? ins.map((v) => v.shape[axis]).reduce(addDims) : d));
      }
      case 'Expand':
        return broadcastShape(a.shape, b.shape, 'Expand');
      case 'Transpose': {
        if ([...spec.perm].sort((p, q) => p - q).join() !== a.shape.map((_, i) => i).join()) throw new Error(`op graph: Transpose perm [${spec.perm}] of [${a.shape}]`);
        return spec.perm.map((i) => a.shape[i]);
      }
      case 'Flatten':
        return ['R', spec.cols];
      case 'MatMulBT':
        return [...a.shape.slice(0, -1), b.shape[0]];
      case 'MatMulAT':
        return [a.shape[1], b.shape[1]];
    }
  }

  // the ops as methods, for writing networks
  linear(x: Value, w: Value, b?: Value): Value {
    return this.add({ op: 'Linear' }, b ? [x, w, b] : [x, w]);
  }
  plus(a: Value, b: Value): Value {
    return this.add({ op: 'Add' }, [a, b]);
  }
  minus(a: Value, b: Value): Value {
    return this.add({ op: 'Sub' }, [a, b]);
  }
  times(a: Value, b: Value): Value {
    return this.add({ op: 'Mul' }, [a, b]);
  }
  over(a: Value, b: Value): Value {
    return this.add({ op: 'Div' }, [a, b]);
  }
  sigmoid(x: Value): Value {
    return this.add({ op: 'Sigmoid' }, [x]);
  }
  tanh(x: Value): Value {
    return this.add({ op: 'Tanh' }, [x]);
  }
  sqrt(x: Value): Value {
    return this.add({ op: 'Sqrt' }, [x]);
  }
  /** SiLU (swish) x sigmoid(x), written with the graph's own ops. */
  silu(x: Value): Value {
    return this.times(x, this.sigmoid(x));
  }
  sum(x: Value, axes: number[], keepdims: boolean): Value {
    return this.add({ op: 'ReduceSum', axes, keepdims }, [x]);
  }
  unsqueeze(x: Value, axis: number): Value {
    return this.add({ op: 'Unsqueeze', axis }, [x]);
  }
  slice(x: Value, axis: number, start: number, end: number): Value {
    return this.add({ op: 'Slice', axis, start, end }, [x]);
  }
  concat(parts: Value[], axis: number): Value {
    return this.add({ op: 'Concat', axis }, parts);
  }
  expand(x: Value, like: Value): Value {
    return this.add({ op: 'Expand' }, [x, like]);
  }
  transpose(x: Value, perm: number[]): Value {
    return this.add({ op: 'Transpose', perm }, [x]);
  }
}
