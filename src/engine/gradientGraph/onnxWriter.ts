// A small writer for plain ONNX graphs (default domain, float32 tensors with static shapes): nodes, initializers,
// the graph's input and outputs, and typed helpers for the element-wise and shape ops the gradient graph is made of.
// Every value carries its shape, so the layer rules can check and reuse shapes without asking onnxruntime.
import Long from 'long';
import { onnx } from 'onnx-proto';
import '../readers/onnx/protobuf'; // registers Long with protobufjs, so that int64 fields encode exactly

/** Opset of the written graphs: ScatterElements with reduction (16), axes as an input of every Reduce op (18). */
export const GRADIENT_GRAPH_OPSET = 18;
const IR_VERSION = 8;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const { AttributeType } = onnx.AttributeProto;

/** A tensor of the graph being written: its name, static shape and element type (float32 unless stated). */
export interface Value {
  readonly name: string;
  readonly shape: readonly number[];
  readonly type?: 'int64' | 'bool';
}

/** Attribute values: integers, integer lists, strings, or `{ float }` for FLOAT attributes. */
export type AttributeValue = number | readonly number[] | string | { float: number };

function attribute(name: string, value: AttributeValue): onnx.IAttributeProto {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: ${value} is not an integer (wrap floats in { float })`);
    return { name, type: AttributeType.INT, i: Long.fromNumber(value) };
  }
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  return { name, type: AttributeType.INTS, ints: (value as readonly number[]).map((v) => Long.fromNumber(v)) };
}

export function sizeOfShape(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Numpy broadcast of two static shapes. */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

function float32Bytes(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return bytes;
}

function int64Bytes(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return bytes;
}

export class GraphWriter {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private readonly constants = new Map<string, Value>();
  /** Reshaped values: where they came from (so that chains collapse) and the reshapes already written. */
  private readonly reshapedFrom = new Map<string, Value>();
  private readonly reshapes = new Map<string, Value>();

  /** A fresh tensor name starting with `hint`. */
  fresh(hint: string): string {
    const base = hint.replace(/[^A-Za-z0-9_./:-]/g, '_') || 't';
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  input(name: string, shape: readonly number[]): Value {
    this.used.add(name);
    this.inputs.push(valueInfo(name, shape, FLOAT));
    return { name, shape };
  }

  /** Declares `value` a graph output under `name` (an Identity node when the names differ). */
  output(value: Value, name: string): void {
    if (value.name !== name) {
      this.used.add(name);
      this.nodes.push({ opType: 'Identity', name: `${name}/Identity`, input: [value.name], output: [name] });
    }
    this.outputs.push(valueInfo(name, value.shape, FLOAT));
  }

  /** One node with one float output of the given shape. `''` (or undefined) marks an omitted optional input. */
  op(opType: string, inputs: (Value | undefined)[], shape: readonly number[], attributes: Record<string, AttributeValue> = {}, hint = opType): Value {
    return this.opMulti(opType, inputs, [{ shape }], attributes, hint)[0];
  }

  /** One node with several outputs (e.g. MaxPool's values and indices). */
  opMulti(
    opType: string,
    inputs: (Value | undefined)[],
    outputs: { shape: readonly number[]; type?: Value['type'] }[],
    attributes: Record<string, AttributeValue> = {},
    hint = opType,
  ): Value[] {
    const values = outputs.map((o) => ({ name: this.fresh(hint), shape: [...o.shape], type: o.type }));
    // Trailing omitted inputs are left out, not written as '' (onnxruntime's NCHWc conv rewrite skips a Conv whose
    // bias input is present but empty).
    const names = inputs.map((v) => v?.name ?? '');
    while (names.length > 0 && names[names.length - 1] === '') names.pop();
    this.nodes.push({
      opType,
      name: `${values[0].name}/${opType}`,
      input: names,
      output: values.map((v) => v.name),
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
    return values;
  }

  /** A float32 initializer. */
  weight(values: ArrayLike<number>, shape: readonly number[], hint: string): Value {
    if (values.length !== sizeOfShape(shape)) throw new Error(`${hint}: ${values.length} values for shape [${shape.join(', ')}]`);
    const name = this.fresh(hint);
    this.initializers.push({ name, dims: shape.map((d) => Long.fromNumber(d)), dataType: FLOAT, rawData: float32Bytes(values) });
    return { name, shape: [...shape] };
  }

  /** A float32 scalar (shape []), one initializer per distinct value. */
  scalar(value: number): Value {
    const key = `f:${Object.is(value, -0) ? '-0' : String(value)}`;
    let v = this.constants.get(key);
    if (!v) {
      v = this.weight([value], [], `c_${String(value).replace(/[^0-9a-z]/gi, '_')}`);
      this.constants.set(key, v);
    }
    return v;
  }

  /** An int64 vector initializer (shapes, axes, pads, indices), one per distinct content. */
  ints(values: readonly number[]): Value {
    const key = `i:${values.join(',')}`;
    let v = this.constants.get(key);
    if (!v) {
      const name = this.fresh(`i64_${values.length <= 4 ? values.join('_').replace(/-/g, 'm') : values.length}`);
      this.initializers.push({ name, dims: [Long.fromNumber(values.length)], dataType: INT64, rawData: int64Bytes(values) });
      v = { name, shape: [values.length], type: 'int64' };
      this.constants.set(key, v);
    }
    return v;
  }

  /** A float32 tensor of zeros (one initializer per shape). */
  zeros(shape: readonly number[]): Value {
    const key = `z:${shape.join('x')}`;
    let v = this.constants.get(key);
    if (!v) {
      v = this.weight(new Float32Array(sizeOfShape(shape)), shape, `zeros_${shape.join('x')}`);
      this.constants.set(key, v);
    }
    return v;
  }

  // ---- element-wise and shape helpers -------------------------------------------------------------------------

  mul(a: Value, b: Value): Value {
    return this.op('Mul', [a, b], broadcastShape(a.shape, b.shape));
  }
  add(a: Value, b: Value): Value {
    return this.op('Add', [a, b], broadcastShape(a.shape, b.shape));
  }
  sub(a: Value, b: Value): Value {
    return this.op('Sub', [a, b], broadcastShape(a.shape, b.shape));
  }
  div(a: Value, b: Value): Value {
    return this.op('Div', [a, b], broadcastShape(a.shape, b.shape));
  }
  neg(a: Value): Value {
    return this.op('Neg', [a], a.shape);
  }
  unary(opType: string, a: Value, attributes: Record<string, AttributeValue> = {}): Value {
    return this.op(opType, [a], a.shape, attributes);
  }
  /** a · k for a number k (no node for k = 1). */
  scale(a: Value, k: number): Value {
    return k === 1 ? a : k === -1 ? this.neg(a) : this.mul(a, this.scalar(k));
  }

  /** Sum of the given values (undefined entries are zeros); undefined when all are. */
  sum(values: (Value | undefined)[]): Value | undefined {
    const present = values.filter((v): v is Value => v !== undefined);
    if (present.length === 0) return undefined;
    if (present.length === 1) return present[0];
    if (present.length === 2) return this.add(present[0], present[1]);
    const shape = present.map((v) => v.shape).reduce((a, b) => broadcastShape(a, b));
    return this.op('Sum', present, shape);
  }

  /** The same values in another shape (a reshape of a reshape reads the original; each reshape is written once). */
  reshape(a: Value, shape: readonly number[]): Value {
    const source = this.reshapedFrom.get(a.name) ?? a;
    if (sameShape(source.shape, shape)) return source;
    if (sizeOfShape(source.shape) !== sizeOfShape(shape)) throw new Error(`reshape of [${a.shape.join(', ')}] to [${shape.join(', ')}]`);
    const key = `${source.name}|${shape.join(',')}`;
    let v = this.reshapes.get(key);
    if (!v) {
      v = this.op('Reshape', [source, this.ints(shape)], shape, {}, 'Reshape');
      this.reshapes.set(key, v);
      this.reshapedFrom.set(v.name, source);
    }
    return v;
  }

  transpose(a: Value, perm: readonly number[]): Value {
    if (perm.every((p, i) => p === i)) return a;
    return this.op(
      'Transpose',
      [a],
      perm.map((p) => a.shape[p]),
      { perm },
    );
  }

  /** Cast of a bool tensor to float32 (0/1). */
  toFloat(a: Value): Value {
    return this.op('Cast', [a], a.shape, { to: FLOAT });
  }

  compare(opType: 'Greater' | 'Less', a: Value, b: Value): Value {
    return this.opMulti(opType, [a, b], [{ shape: broadcastShape(a.shape, b.shape), type: 'bool' }])[0];
  }

  /** ReduceSum over `axes`. */
  reduceSum(a: Value, axes: readonly number[], keepDims: boolean): Value {
    const shape = keepDims ? a.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : a.shape.filter((_, i) => !axes.includes(i));
    return this.op('ReduceSum', [a, this.ints(axes)], shape, { keepdims: keepDims ? 1 : 0 });
  }

  /** Slice along `axes` (positive steps; unit steps when `steps` is left out). */
  slice(a: Value, starts: readonly number[], ends: readonly number[], axes: readonly number[], steps?: readonly number[]): Value {
    const shape = [...a.shape];
    axes.forEach((axis, i) => (shape[axis] = Math.ceil((Math.min(ends[i], a.shape[axis]) - starts[i]) / (steps?.[i] ?? 1))));
    const inputs = [a, this.ints(starts), this.ints(ends), this.ints(axes)];
    if (steps && steps.some((s) => s !== 1)) inputs.push(this.ints(steps));
    return this.op('Slice', inputs, shape);
  }

  /** Constant (zero) padding of every axis: `pads` = [begin_0 … begin_r, end_0 … end_r] as in ONNX Pad. */
  pad(a: Value, pads: readonly number[]): Value {
    if (pads.every((p) => p === 0)) return a;
    const rank = a.shape.length;
    const shape = a.shape.map((d, i) => d + pads[i] + pads[i + rank]);
    return this.op('Pad', [a, this.ints(pads)], shape, { mode: 'constant' });
  }

  /** The ModelProto bytes, without the nodes and initializers no output depends on. */
  encode(graphName: string, docString: string): Uint8Array {
    const needed = new Set(this.outputs.map((o) => o.name!));
    const nodes: onnx.INodeProto[] = [];
    for (let k = this.nodes.length - 1; k >= 0; k--) {
      const node = this.nodes[k];
      if (!node.output!.some((o) => needed.has(o))) continue;
      nodes.push(node);
      for (const i of node.input!) needed.add(i);
    }
    nodes.reverse();
    this.liveNodes = nodes.length;
    const model = onnx.ModelProto.create({
      irVersion: Long.fromNumber(IR_VERSION),
      opsetImport: [{ domain: '', version: Long.fromNumber(GRADIENT_GRAPH_OPSET) }],
      producerName: 'leaklint-gradient-graph',
      producerVersion: '1',
      docString,
      graph: { name: graphName, node: nodes, initializer: this.initializers.filter((t) => needed.has(t.name!)), input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  private liveNodes = 0;

  /** Nodes in the encoded graph (after `encode`). */
  get nodeCount(): number {
    return this.liveNodes;
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function valueInfo(name: string, shape: readonly number[], elemType: number): onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: shape.map((d) => ({ dimValue: Long.fromNumber(d) })) } } } };
}
