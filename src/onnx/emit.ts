/**
 * An op graph (net/ir.ts) as ONNX nodes (opset 17): the network's definition and its derived
 * backward pass become one ONNX graph for ONNX Runtime.
 *
 * Parameters are initializers when their values are given (inference: a slice of a parameter
 * is cut once here), else graph inputs named after the parameter (training: the weights change
 * every step and are fed by the host optimiser).
 */
import type { OpGraph, OpNode, Value } from '../net/ir.js';
import { type Dim, GraphBuilder } from './builder.js';

/** A graph output: a value, its name and its ONNX dimensions. */
export interface EmitOutput {
  value: Value;
  name: string;
  dims: Dim[];
}

/**
 * The nodes the outputs need, in graph order (which is topological), as ONNX nodes.
 * @param weights parameter values (inference), or undefined for parameters as graph inputs
 * @returns the builder holding the graph
 */
export function emitOnnx(graph: OpGraph, outputs: EmitOutput[], weights?: Record<string, Float32Array>): GraphBuilder {
  const needed = graph.neededFor(outputs.map((o) => o.value));
  const e = new OnnxEmitter(graph, weights);
  for (const n of graph.nodes) if (needed.has(n.output.id)) e.node(n);
  for (const o of outputs) e.b.output(e.name(o.value), o.name, o.dims);
  return e.b;
}

/** Writes the nodes of one op graph into a GraphBuilder. */
class OnnxEmitter {
  readonly b = new GraphBuilder();
  private readonly names = new Map<number, string>();
  private readonly transposed = new Map<number, string>();
  private readonly shapes = new Map<number, string>();

  /**
   * @param weights host values of the parameters (`[in, out]` row-major), or undefined to make
   *   every parameter a graph input
   */
  constructor(
    private readonly graph: OpGraph,
    private readonly weights?: Record<string, Float32Array>,
  ) {
    for (const v of graph.inputs) this.names.set(v.id, this.b.input(v.name!, v.shape));
  }

  /** Emit one node (its inputs are emitted already, or are inputs, parameters or constants). */
  node(n: OpNode): void {
    this.set(n.output, this.emit(n));
  }

  /** The ONNX name of a value. @throws Error for a node output not emitted yet */
  name(v: Value): string {
    const known = this.names.get(v.id);
    if (known) return known;
    if (v.kind === 'const') return this.set(v, this.b.scalar(v.constant!));
    if (v.kind === 'param') return this.set(v, this.param(v));
    throw new Error(`ONNX emit: value ${v.id} is used before it is made`);
  }

  private set(v: Value, name: string): string {
    this.names.set(v.id, name);
    return name;
  }

  private hostWeight(v: Value): Float32Array {
    const w = this.weights![v.name!];
    if (!w) throw new Error(`ONNX export: weight ${v.name} is missing`);
    return w;
  }

  private param(v: Value): string {
    if (!this.weights) return this.b.input(v.name!, v.shape);
    return this.b.weight(v.name!, Float32Array.from(this.hostWeight(v)), v.shape as number[]);
  }

  private ints(values: number[]): string {
    return this.b.ints(values);
  }

  private shapeOf(v: Value): string {
    let s = this.shapes.get(v.id);
    if (!s) this.shapes.set(v.id, (s = this.b.node('Shape', [this.name(v)])));
    return s;
  }

  private transpose(w: Value): string {
    let t = this.transposed.get(w.id);
    if (!t) this.transposed.set(w.id, (t = this.b.node('Transpose', [this.name(w)], [['perm', [1, 0]]])));
    return t;
  }

  private emit(node: OpNode): string {
    const { spec, inputs } = node;
    const b = this.b;
    // a row slice of a known weight is cut here, once (inference export)
    if (spec.op === 'Slice' && this.weights && inputs[0].kind === 'param' && spec.axis === 0) {
      const w = inputs[0];
      const cols = w.shape.length === 2 ? (w.shape[1] as number) : 1;
      const data = this.hostWeight(w).slice(spec.start * cols, spec.end * cols);
      return b.weight(`${w.name}[${spec.start}:${spec.end}]`, data, w.shape.length === 2 ? [spec.end - spec.start, cols] : [spec.end - spec.start]);
    }
    const x = (i: number): string => this.name(inputs[i]);
    const rank = inputs[0].shape.length;
    const axis = (a: number, r = rank): number => (a < 0 ? a + r : a);
    switch (spec.op) {
      case 'Linear': {
        const y = b.node('MatMul', [x(0), x(1)]);
        return inputs[2] ? b.node('Add', [y, x(2)]) : y;
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Sigmoid':
      case 'Tanh':
      case 'Sqrt':
        return b.node(spec.op, inputs.map((_, i) => x(i)));
      case 'ReduceSum':
        return b.node('ReduceSum', [x(0), this.ints(spec.axes)], [['keepdims', spec.keepdims ? 1 : 0]]);
      case 'Unsqueeze':
        return b.node('Unsqueeze', [x(0), this.ints([spec.axis])]);
      case 'Squeeze':
        return b.node('Squeeze', [x(0), this.ints([axis(spec.axis)])]);
      case 'Slice':
        return b.node('Slice', [x(0), this.ints([spec.start]), this.ints([spec.end]), this.ints([axis(spec.axis)])]);
      case 'Concat':
        return b.node('Concat', inputs.map((_, i) => x(i)), [['axis', axis(spec.axis)]]);
      case 'Expand':
        return b.node('Expand', [x(0), this.shapeOf(inputs[1])]);
      case 'Transpose':
        return b.node('Transpose', [x(0)], [['perm', spec.perm]]);
      case 'Pad': {
        const pads = new Array<number>(2 * rank).fill(0);
        pads[axis(spec.axis)] = spec.before;
        pads[rank + axis(spec.axis)] = spec.after;
        return b.node('Pad', [x(0), this.ints(pads)]);
      }
      case 'Flatten':
        return b.node('Reshape', [x(0), this.ints([-1, spec.cols])]);
      case 'MatMulBT':
        return b.node('MatMul', [x(0), this.transpose(inputs[1])]);
      case 'MatMulAT':
        return b.node('Gemm', [x(0), x(1)], [['transA', 1]]);
    }
  }
}
