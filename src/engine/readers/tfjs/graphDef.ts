// TF GraphDef as TF.js writes it to model.json (protobuf JSON mapping): nodes, input names, attr values, and
// constants written inline. Converters differ in details (strings as base64 or byte lists, dtypes as names or
// enum numbers, int64 as strings or numbers), so every accessor accepts each variant.
import { ModelReadError } from '../../errors';
import { halfToFloat } from '../../float16';
import type { Shape } from '../../ir';
import type { ResolvedReadOptions } from '../../options';
import { isObject, whereAt, type JsonObject, type ModelJson } from './json';
import { inlineWeight, type StoredWeight } from './weights';

/** Output `index` of node `node` ("node:index" in the file; "node" is output 0). */
export interface TensorName {
  node: string;
  index: number;
}

export interface GraphNode {
  name: string;
  op: string;
  inputs: TensorName[];
  /** "^name" inputs: ordering only, no data. */
  controlInputs: string[];
  attr: JsonObject;
  json: JsonObject;
}

export function parseGraphNodes(file: string, rawNodes: unknown[], opts: ResolvedReadOptions): GraphNode[] {
  if (rawNodes.length > opts.maxNodes) {
    throw new ModelReadError('too-large', file, 'modelTopology.node', `the graph has ${rawNodes.length} nodes, over the ${opts.maxNodes} limit`);
  }
  const seen = new Set<string>();
  return rawNodes.map((raw, i) => {
    const where = `modelTopology.node[${i}]`;
    if (!isObject(raw) || typeof raw.name !== 'string' || typeof raw.op !== 'string') {
      throw new ModelReadError('invalid-model', file, where, 'a graph node needs a "name" and an "op"');
    }
    if (seen.has(raw.name)) throw new ModelReadError('invalid-model', file, where, `duplicate node name "${raw.name}"`);
    seen.add(raw.name);
    const rawInputs = raw.input ?? [];
    if (!Array.isArray(rawInputs) || !rawInputs.every((x): x is string => typeof x === 'string')) {
      throw new ModelReadError('invalid-model', file, where, '"input" must be a list of tensor names');
    }
    const inputs = rawInputs.filter((x) => !x.startsWith('^')).map(parseTensorName);
    const controlInputs = rawInputs.filter((x) => x.startsWith('^')).map((x) => x.slice(1));
    return { name: raw.name, op: raw.op, inputs, controlInputs, attr: isObject(raw.attr) ? raw.attr : {}, json: raw };
  });
}

export function parseTensorName(name: string): TensorName {
  const match = /^(.*):(\d+)$/.exec(name);
  return match ? { node: match[1]!, index: Number(match[2]) } : { node: name, index: 0 };
}

export function tensorKey(t: TensorName): string {
  return `${t.node}:${t.index}`;
}

export function nodeWhere(doc: ModelJson, node: GraphNode): string {
  return whereAt(doc.locate(node.json), node.name);
}

// ---- attribute values --------------------------------------------------------------------------------------------

export function attrInt(node: GraphNode, key: string): number | undefined {
  const value = attrField(node, key, 'i');
  return value === undefined ? undefined : toInt(value);
}

export function attrInts(node: GraphNode, key: string): number[] | undefined {
  const list = listField(node, key, 'i');
  return list?.map(toInt).filter((v): v is number => v !== undefined);
}

export function attrFloat(node: GraphNode, key: string): number | undefined {
  const value = attrField(node, key, 'f');
  return typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : undefined;
}

export function attrBool(node: GraphNode, key: string): boolean | undefined {
  const value = attrField(node, key, 'b');
  return typeof value === 'boolean' ? value : undefined;
}

export function attrString(node: GraphNode, key: string): string | undefined {
  return decodeBytes(attrField(node, key, 's'));
}

export function attrStrings(node: GraphNode, key: string): string[] | undefined {
  return listField(node, key, 's')?.map((v) => decodeBytes(v) ?? '');
}

/** A shape attr: null for unknown dims; undefined when absent or of unknown rank. */
export function attrShape(node: GraphNode, key: string): (number | null)[] | undefined {
  return parseShapeProto(attrField(node, key, 'shape'));
}

export function parseShapeProto(proto: unknown): (number | null)[] | undefined {
  if (!isObject(proto) || proto.unknownRank === true) return undefined;
  const dims = proto.dim ?? [];
  if (!Array.isArray(dims)) return undefined;
  // proto3 JSON leaves out a zero size: {"dim": [{}]} is a 0-sized dim.
  return dims.map((d) => {
    const size = isObject(d) ? toInt(d.size ?? 0) : undefined;
    return size === undefined || size < 0 ? null : size;
  });
}

const DTYPE_NAMES: Record<number, string> = {
  1: 'DT_FLOAT',
  2: 'DT_DOUBLE',
  3: 'DT_INT32',
  4: 'DT_UINT8',
  6: 'DT_INT8',
  7: 'DT_STRING',
  9: 'DT_INT64',
  10: 'DT_BOOL',
  19: 'DT_HALF',
};

function dtypeName(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return DTYPE_NAMES[value] ?? `DT_${value}`;
  return undefined;
}

/**
 * The value of a Const node written in model.json itself (small consts; big ones live in the weights manifest).
 * Undefined when the node carries no values.
 */
export function inlineConstant(file: string, where: string, node: GraphNode, opts: ResolvedReadOptions): StoredWeight | undefined {
  const tensor = isObject(node.attr.value) ? node.attr.value.tensor : undefined;
  if (!isObject(tensor)) return undefined;
  const dims = parseShapeProto(tensor.tensorShape) ?? [];
  if (dims.some((d) => d === null)) throw new ModelReadError('bad-shape', file, where, 'constant has a dynamic shape');
  const shape = dims as Shape;
  const elements = shape.reduce((a, b) => a * b, 1);
  if (elements > opts.maxTensorElements) {
    throw new ModelReadError('bad-shape', file, where, `constant has ${elements} elements, over the ${opts.maxTensorElements}-element limit`);
  }
  const dtype = dtypeName(tensor.dtype) ?? 'DT_FLOAT';
  const values = typeof tensor.tensorContent === 'string' ? decodeContent(tensor.tensorContent, dtype) : listedValues(tensor);
  if (!values || values.length === 0) return elements === 0 ? inlineWeight(node.name, shape, dtype, []) : undefined;
  // TF repeats the last listed value to fill the tensor; inlineWeight does that lazily, when the values are read.
  return inlineWeight(node.name, shape, `inline ${dtype}`, values);
}

function listedValues(tensor: JsonObject): Float64Array | undefined {
  for (const key of ['floatVal', 'doubleVal', 'intVal', 'int64Val', 'boolVal', 'halfVal']) {
    const list = tensor[key];
    // halfVal holds the binary16 bit patterns.
    if (Array.isArray(list) && list.length > 0) return Float64Array.from(list, key === 'halfVal' ? (v) => halfToFloat(Number(v)) : Number);
  }
  return undefined;
}

function decodeContent(base64: string, dtype: string): Float64Array | undefined {
  const bytes = Buffer.from(base64, 'base64');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read: Record<string, [number, (offset: number) => number]> = {
    DT_FLOAT: [4, (o) => view.getFloat32(o, true)],
    DT_DOUBLE: [8, (o) => view.getFloat64(o, true)],
    DT_INT32: [4, (o) => view.getInt32(o, true)],
    DT_INT64: [8, (o) => Number(view.getBigInt64(o, true))],
    DT_UINT8: [1, (o) => view.getUint8(o)],
    DT_BOOL: [1, (o) => view.getUint8(o)],
    DT_HALF: [2, (o) => halfToFloat(view.getUint16(o, true))],
  };
  const reader = read[dtype];
  if (!reader) return undefined;
  const [size, at] = reader;
  const out = new Float64Array(Math.floor(bytes.length / size));
  for (let i = 0; i < out.length; i++) out[i] = at(i * size);
  return out;
}

function attrField(node: GraphNode, key: string, field: string): unknown {
  const attr = node.attr[key];
  return isObject(attr) ? attr[field] : undefined;
}

function listField(node: GraphNode, key: string, field: string): unknown[] | undefined {
  const list = attrField(node, key, 'list');
  if (!isObject(list)) return undefined;
  const values = list[field];
  return Array.isArray(values) ? values : [];
}

function toInt(value: unknown): number | undefined {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined;
}

/** Protobuf bytes: base64 text (the JSON mapping) or a list of byte values (some converters). */
function decodeBytes(value: unknown): string | undefined {
  if (Array.isArray(value)) return Buffer.from(value.filter((b): b is number => typeof b === 'number')).toString('latin1');
  if (typeof value !== 'string') return undefined;
  const decoded = Buffer.from(value, 'base64').toString('latin1');
  // Some writers put the plain string; base64 of printable text decodes to printable text.
  return /^[\x20-\x7e]*$/.test(decoded) && decoded.length > 0 ? decoded : value;
}
