/**
 * A small builder for ONNX graphs (opset 17): named float32 inputs/outputs with symbolic
 * dimensions, float32 initializers, int64 constants, and nodes whose outputs get fresh names.
 */
import { AttributeType, type AttributeMsg, DataType, type ModelMsg, type NodeMsg, type TensorMsg, type ValueInfoMsg } from './proto.js';

/** The operator set the exporter writes (ONNX 1.12+; ORT 1.13+ runs it). */
export const OPSET = 17;
/** IR version of opset 17. */
export const IR_VERSION = 8;

/** A dimension: a fixed size or a symbolic name such as `B`. */
export type Dim = number | string;

const valueInfo = (name: string, dims: Dim[]): ValueInfoMsg => ({
  name,
  type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
});

const bytesOf = (a: Float32Array | BigInt64Array): Uint8Array => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));

/** Builds one graph; `model()` wraps it for encoding. */
export class GraphBuilder {
  private readonly nodes: NodeMsg[] = [];
  private readonly initializers: TensorMsg[] = [];
  private readonly inputs: ValueInfoMsg[] = [];
  private readonly outputs: ValueInfoMsg[] = [];
  private readonly int64Cache = new Map<string, string>();
  private count = 0;

  /** Declare a float32 graph input. @returns its name */
  input(name: string, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, dims));
    return name;
  }

  /** Declare `value` as the float32 graph output `name`. */
  output(value: string, name: string, dims: Dim[]): void {
    this.node('Identity', [value], [], name);
    this.outputs.push(valueInfo(name, dims));
  }

  /** A float32 initializer (a weight). @returns its name */
  weight(name: string, data: Float32Array, dims: number[]): string {
    if (data.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`ONNX export: ${name} has ${data.length} values for shape [${dims}]`);
    this.initializers.push({ name, dims, dataType: DataType.FLOAT, rawData: bytesOf(data) });
    return name;
  }

  /** A float32 scalar constant. @returns its name */
  scalar(value: number): string {
    return this.weight(`const_f${this.count++}`, Float32Array.of(value), []);
  }

  /** A 1-D int64 constant (axes, starts, shapes), shared between nodes. @returns its name */
  ints(values: number[]): string {
    const key = values.join(',');
    let name = this.int64Cache.get(key);
    if (!name) {
      name = `const_i${this.int64Cache.size}`;
      this.initializers.push({ name, dims: [values.length], dataType: DataType.INT64, rawData: bytesOf(BigInt64Array.from(values.map(BigInt))) });
      this.int64Cache.set(key, name);
    }
    return name;
  }

  /**
   * Add a node. @returns the name of its (first) output
   * @param attrs attributes; numbers become INT (integers) or FLOAT, arrays INTS
   */
  node(opType: string, inputs: string[], attrs: [string, number | number[], 'f'?][] = [], output?: string): string {
    const out = output ?? `${opType.toLowerCase()}_${this.count++}`;
    const attribute: AttributeMsg[] = attrs.map(([name, v, kind]) =>
      Array.isArray(v) ? { name, type: AttributeType.INTS, ints: v } : kind === 'f' ? { name, type: AttributeType.FLOAT, f: v } : { name, type: AttributeType.INT, i: v },
    );
    this.nodes.push({ name: `n${this.nodes.length}_${opType}`, opType, input: inputs, output: [out], attribute });
    return out;
  }

  /** The model message of this graph. */
  model(name: string, docString: string): ModelMsg {
    return {
      irVersion: IR_VERSION,
      producerName: 'edm-ts',
      producerVersion: '0.1.0',
      docString,
      opsetImport: [{ domain: '', version: OPSET }],
      graph: { name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    };
  }
}
