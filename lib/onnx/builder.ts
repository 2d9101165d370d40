/**
 * A small builder of ONNX graphs over `onnx-proto`: named values, nodes, initializers whose bytes
 * are produced lazily (so that a model's weights are read, converted and written one tensor at a
 * time), and subgraphs for `Scan`.
 */
import onnxProto from "onnx-proto";

export const onnx = onnxProto.onnx;
export type NodeProto = onnxProto.onnx.INodeProto;

/** Element types the kit uses, with their ONNX codes and sizes. */
export const DTYPES = {
  float32: { code: 1, bytes: 4 },
  uint8: { code: 2, bytes: 1 },
  int8: { code: 3, bytes: 1 },
  int32: { code: 6, bytes: 4 },
  int64: { code: 7, bytes: 8 },
  bool: { code: 9, bytes: 1 },
  float16: { code: 10, bytes: 2 },
} as const;
export type DType = keyof typeof DTYPES;

/** A dimension: a number, or a symbolic name such as "batch". */
export type Dim = number | string;

/** A float attribute that happens to hold an integral value (`{ f: 1 }`). */
export interface FloatAttr {
  f: number;
}
export type Attr = number | FloatAttr | number[] | string | Graph | { floats: number[] };

/** An initializer: its bytes come from `data` when the model is written. */
export interface Initializer {
  name: string;
  dtype: DType;
  dims: number[];
  data: () => Uint8Array | Promise<Uint8Array>;
  /** Bytes of the data (known up front, for layout). */
  byteLength: number;
}

/**
 * One ONNX graph under construction.
 *
 * @example
 * ```ts
 * const g = new Graph("double");
 * const x = g.input("x", "float32", ["n"]);
 * g.output(g.op("Add", [x, x]), "float32", ["n"], "y");
 * ```
 */
export class Graph {
  readonly nodes: NodeProto[] = [];
  readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly initializers: Map<string, Initializer> = new Map<string, Initializer>();
  private counter = 0;
  private consts = new Map<string, string>();

  /**
   * `prefix` starts every fresh value name: subgraphs need their own, because ONNX forbids a
   * subgraph to reuse a name of the graph around it.
   */
  constructor(readonly name: string, readonly prefix = "") {}

  /** A fresh value name with a readable stem. */
  fresh(stem: string): string {
    return `${this.prefix}${stem}_${this.counter++}`;
  }

  /** Declares a graph input. */
  input(name: string, dtype: DType, dims?: Dim[]): string {
    this.inputs.push(valueInfo(name, dtype, dims));
    return name;
  }

  /** Declares `value` a graph output, renaming it to `name` through an Identity if needed. */
  output(value: string, dtype: DType, dims?: Dim[], name = value): string {
    if (name !== value) this.op("Identity", [value], {}, { outputs: [name] });
    this.outputs.push(valueInfo(name, dtype, dims));
    return name;
  }

  /** Adds an initializer whose bytes are produced when the model is written. */
  init(
    name: string,
    dtype: DType,
    dims: number[],
    data: () => Uint8Array | Promise<Uint8Array>,
  ): string {
    if (this.initializers.has(name)) throw new Error(`initializer '${name}' defined twice`);
    const byteLength = dims.reduce((a, b) => a * b, 1) * DTYPES[dtype].bytes;
    this.initializers.set(name, { name, dtype, dims, data, byteLength });
    return name;
  }

  /**
   * A constant tensor, shared when the same values (or the same `name`) recur. Named constants
   * keep their name, so that graphs can share them in one weights file.
   */
  const(
    dtype: DType,
    values: ArrayLike<number>,
    dims: number[] = [values.length],
    name?: string,
  ): string {
    const key = name ?? `${dtype}:${dims}:${Array.from(values)}`;
    const hit = this.consts.get(key);
    if (hit) return hit;
    const id = name ?? this.fresh(`const_${dtype}`);
    const bytes = typedBytes(dtype, values);
    this.init(id, dtype, dims, () => bytes);
    this.consts.set(key, id);
    return id;
  }

  /** A scalar constant. */
  scalar(dtype: DType, value: number): string {
    return this.const(dtype, [value], []);
  }

  /** Adds a node; returns its outputs (one name, or several when `outputs` is a count > 1). */
  op(
    type: string,
    inputs: string[],
    attrs: Record<string, Attr> = {},
    opts: { outputs?: number | string[]; name?: string; domain?: string } = {},
  ): string {
    return this.opN(type, inputs, attrs, opts)[0];
  }

  /** Like `op`, returning every output. */
  opN(
    type: string,
    inputs: string[],
    attrs: Record<string, Attr> = {},
    opts: { outputs?: number | string[]; name?: string; domain?: string } = {},
  ): string[] {
    const outputs = Array.isArray(opts.outputs)
      ? opts.outputs
      : Array.from({ length: opts.outputs ?? 1 }, () => this.fresh(type.toLowerCase()));
    this.nodes.push({
      opType: type,
      name: opts.name ?? this.fresh(`n_${type}`),
      domain: opts.domain ?? "",
      input: inputs,
      output: outputs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outputs;
  }

  /** The GraphProto, with initializers either inline or pointing into external data. */
  toProto(
    external?: Map<string, { location: string; offset: number }>,
    inline?: Map<string, Uint8Array>,
  ): onnxProto.onnx.IGraphProto {
    const initializer = [...this.initializers.values()].map((t) => {
      const ext = external?.get(t.name);
      const base = { name: t.name, dataType: DTYPES[t.dtype].code, dims: t.dims };
      if (ext) {
        return {
          ...base,
          dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [
            { key: "location", value: ext.location },
            { key: "offset", value: String(ext.offset) },
            { key: "length", value: String(t.byteLength) },
          ],
        };
      }
      const raw = inline?.get(t.name);
      if (!raw) throw new Error(`initializer '${t.name}' has no data`);
      return { ...base, rawData: raw };
    });
    return {
      name: this.name,
      node: this.nodes,
      input: this.inputs,
      output: this.outputs,
      initializer,
    };
  }
}

function valueInfo(name: string, dtype: DType, dims?: Dim[]) {
  const tensorType: onnxProto.onnx.TypeProto.ITensor = { elemType: DTYPES[dtype].code };
  if (dims) {
    tensorType.shape = {
      dim: dims.map((d) => typeof d === "number" ? { dimValue: d } : { dimParam: d }),
    };
  }
  return { name, type: { tensorType } };
}

const A = onnx.AttributeProto.AttributeType;

function attribute(name: string, v: Attr): onnxProto.onnx.IAttributeProto {
  if (v instanceof Graph) return { name, type: A.GRAPH, g: v.toProto(undefined, inlineData(v)) };
  if (typeof v === "string") return { name, type: A.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === "number") {
    return Number.isInteger(v) ? { name, type: A.INT, i: v } : { name, type: A.FLOAT, f: v };
  }
  if (Array.isArray(v)) return { name, type: A.INTS, ints: v };
  if ("floats" in v) return { name, type: A.FLOATS, floats: v.floats };
  return { name, type: A.FLOAT, f: v.f };
}

/** Subgraph initializers are always small constants: their bytes are produced synchronously. */
function inlineData(g: Graph): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const t of g.initializers.values()) {
    const d = t.data();
    if (d instanceof Promise) throw new Error(`subgraph initializer '${t.name}' must be inline`);
    m.set(t.name, d);
  }
  return m;
}

/** Little-endian bytes of `values` as `dtype`. */
export function typedBytes(dtype: DType, values: ArrayLike<number>): Uint8Array {
  switch (dtype) {
    case "float32":
      return bytesOf(Float32Array.from(values));
    case "int64":
      return bytesOf(BigInt64Array.from(Array.from(values), (x) => BigInt(x)));
    case "int32":
      return bytesOf(Int32Array.from(values));
    case "int8":
      return bytesOf(Int8Array.from(values));
    case "uint8":
    case "bool":
      return Uint8Array.from(values);
    case "float16":
      throw new Error("float16 constants: convert with lib/dtypes.ts first");
  }
}

/** The bytes behind a typed array (a view, no copy). */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
