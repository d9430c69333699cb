// Constant tensors (initializers, Constant nodes, folded chains) whose values stay in the file until asked for.
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import type { Shape, WeightTensor } from '../../ir';
import { sizeOf } from '../../ir';
import { ModelReadError } from '../../errors';
import { halfToFloat } from '../../float16';
import { openInsideFolder, resolveInsideFolder } from '../../safePath';
import { toNumber, type Int64 } from './protobuf';
import { formatShape } from './shapeMath';

/**
 * A tensor known when the file is read. For tensors stored in the file `values()` decodes (and reads external data)
 * on every call; derived tensors (constOps.ts) compute once and keep the array. The returned array is shared: callers
 * must not modify it (asWeight hands the engine a copy).
 */
export interface ConstTensor {
  /** Name in the file of the tensor the values come from. */
  readonly name: string;
  readonly shape: Shape;
  /** onnx.TensorProto.DataType of the values. */
  readonly dataType: number;
  values(): Float64Array;
  /** Length of the longest chain of derived tensors `values()` walks through (0 or absent: stored or materialised). */
  readonly depth?: number;
  /** True when `values()` computes new elements that no file bytes back (counted against maxDerivedElements). */
  readonly computed?: boolean;
  /** True when `values()` returns the same array on every call (asWeight then hands out copies). */
  readonly shared?: boolean;
}

type TypedField = 'floatData' | 'int32Data' | 'int64Data' | 'doubleData' | 'uint64Data';

interface DataTypeInfo {
  name: string;
  bytes: number;
  /** Reads one little-endian element. */
  read: (view: DataView, offset: number) => number;
  /** Typed field holding the values when raw_data is not used. */
  field: TypedField;
  /** Converts a typed-field entry (float16/bfloat16 are stored as their bit patterns in int32_data). */
  fromField?: (value: number) => number;
}

const T = onnx.TensorProto.DataType;

const DECODABLE: Record<number, DataTypeInfo> = {
  [T.FLOAT]: { name: 'float32', bytes: 4, read: (v, o) => v.getFloat32(o, true), field: 'floatData' },
  [T.UINT8]: { name: 'uint8', bytes: 1, read: (v, o) => v.getUint8(o), field: 'int32Data' },
  [T.INT8]: { name: 'int8', bytes: 1, read: (v, o) => v.getInt8(o), field: 'int32Data' },
  [T.UINT16]: { name: 'uint16', bytes: 2, read: (v, o) => v.getUint16(o, true), field: 'int32Data' },
  [T.INT16]: { name: 'int16', bytes: 2, read: (v, o) => v.getInt16(o, true), field: 'int32Data' },
  [T.INT32]: { name: 'int32', bytes: 4, read: (v, o) => v.getInt32(o, true), field: 'int32Data' },
  [T.INT64]: { name: 'int64', bytes: 8, read: (v, o) => Number(v.getBigInt64(o, true)), field: 'int64Data' },
  [T.BOOL]: { name: 'bool', bytes: 1, read: (v, o) => (v.getUint8(o) ? 1 : 0), field: 'int32Data' },
  [T.FLOAT16]: { name: 'float16', bytes: 2, read: (v, o) => halfToFloat(v.getUint16(o, true)), field: 'int32Data', fromField: halfToFloat },
  [T.DOUBLE]: { name: 'float64', bytes: 8, read: (v, o) => v.getFloat64(o, true), field: 'doubleData' },
  [T.UINT32]: { name: 'uint32', bytes: 4, read: (v, o) => v.getUint32(o, true), field: 'uint64Data' },
  [T.UINT64]: { name: 'uint64', bytes: 8, read: (v, o) => Number(v.getBigUint64(o, true)), field: 'uint64Data' },
  [T.BFLOAT16]: { name: 'bfloat16', bytes: 2, read: (v, o) => bfloat16ToFloat(v.getUint16(o, true)), field: 'int32Data', fromField: bfloat16ToFloat },
};

/** Types named in messages but not decoded (17 and up are newer than the onnx-proto schema). */
const UNDECODED_NAMES: Record<number, string> = {
  [T.STRING]: 'string',
  [T.COMPLEX64]: 'complex64',
  [T.COMPLEX128]: 'complex128',
  17: 'float8e4m3fn',
  18: 'float8e4m3fnuz',
  19: 'float8e5m2',
  20: 'float8e5m2fnuz',
  21: 'uint4',
  22: 'int4',
};

const INTEGER_TYPES = new Set<number>([T.UINT8, T.INT8, T.UINT16, T.INT16, T.INT32, T.INT64, T.BOOL, T.UINT32, T.UINT64]);

export function isIntegerType(dataType: number): boolean {
  return INTEGER_TYPES.has(dataType);
}

export function dataTypeName(dataType: number): string {
  return DECODABLE[dataType]?.name ?? UNDECODED_NAMES[dataType] ?? `data type ${dataType}`;
}

function bfloat16ToFloat(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits << 16);
  return view.getFloat32(0);
}

/** Labels and limits for reading tensors out of one model file. */
export interface TensorContext {
  modelFile: string;
  maxTensorElements: number;
  /** false: external data files are not opened (untrusted workspace). */
  externalData?: boolean;
}

/** Declared dims checked before anything is allocated: non-negative integers, at most maxTensorElements elements. */
export function declaredDims(dims: readonly Int64[] | null | undefined, ctx: TensorContext, where: string): Shape {
  const shape = (dims ?? []).map(toNumber);
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) {
      throw new ModelReadError('bad-shape', ctx.modelFile, where, `declares dimension ${dim} in shape ${formatShape(shape)}`);
    }
  }
  checkElementCount(shape, ctx, where);
  return shape;
}

export function checkElementCount(shape: Shape, ctx: TensorContext, where: string): void {
  const elements = sizeOf(shape);
  if (elements > ctx.maxTensorElements) {
    const reason = `shape ${formatShape(shape)} has ${elements} elements, over the ${ctx.maxTensorElements}-element limit`;
    throw new ModelReadError('too-large', ctx.modelFile, where, reason);
  }
}

/** Decodes a TensorProto lazily after checking that its storage matches its dims. */
export function tensorFromProto(proto: onnx.ITensorProto, ctx: TensorContext, where: string, fallbackName = ''): ConstTensor {
  const name = proto.name || fallbackName;
  const shape = declaredDims(proto.dims, ctx, where);
  const dataType = proto.dataType ?? 0;
  const count = sizeOf(shape);
  const lazy = (values: () => Float64Array): ConstTensor => ({ name, shape, dataType, values });
  const info = DECODABLE[dataType];
  if (!info) {
    return lazy(() => {
      if (count === 0) return new Float64Array(0);
      const reason = `tensor "${name}" holds ${dataTypeName(dataType)} values, which LeakLint cannot decode`;
      throw new ModelReadError('bad-weights', ctx.modelFile, where, reason);
    });
  }
  const { bytes, read } = info;
  const expected = count * bytes;
  const described = `tensor "${name}" ${formatShape(shape)}`;

  if (proto.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    if (ctx.externalData === false) {
      return lazy(() => {
        const reason = `${described} is stored in an external data file, which LeakLint does not open in an untrusted workspace (trust the workspace to analyse these weights)`;
        throw new ModelReadError('missing-weights', ctx.modelFile, where, reason);
      });
    }
    const region = externalRegion(proto, expected, ctx, where, described);
    return lazy(() => decodeRaw(readRegion(region), count, bytes, read));
  }
  const raw = proto.rawData;
  if (raw && raw.length > 0) {
    if (raw.length !== expected) {
      const code = raw.length < expected ? 'truncated' : 'bad-weights';
      throw new ModelReadError(code, ctx.modelFile, where, `${described} needs ${expected} bytes of raw_data but has ${raw.length}`);
    }
    return lazy(() => decodeRaw(raw, count, bytes, read));
  }
  const field: readonly Int64[] = proto[info.field] ?? [];
  if (field.length !== count) {
    throw new ModelReadError('bad-weights', ctx.modelFile, where, `${described} has ${count} elements but ${field.length} values in ${info.field}`);
  }
  const convert = info.fromField ?? ((value: number) => value);
  return lazy(() => Float64Array.from(field, (value) => convert(toNumber(value))));
}

/** Reads `count` little-endian elements through a DataView: raw_data may start at any byte offset. */
function decodeRaw(bytes: Uint8Array, count: number, size: number, read: (view: DataView, offset: number) => number): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = read(view, i * size);
  return out;
}

interface ExternalRegion {
  /** Real path of the data file when the model was read (labels errors). */
  file: string;
  /** The model's folder, the location as written and its label: the path is resolved again when loading. */
  folder: string;
  location: string;
  modelFile: string;
  reference: string;
  offset: number;
  length: number;
  /** 'tensor "w" [3,2,3,3]', for messages. */
  described: string;
}

/** Resolves and checks an external_data reference now (so broken models fail to read); the bytes are read later. */
function externalRegion(proto: onnx.ITensorProto, expectedBytes: number, ctx: TensorContext, where: string, described: string): ExternalRegion {
  const entries = new Map((proto.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = entries.get('location');
  if (location === undefined) {
    throw new ModelReadError('bad-weights', ctx.modelFile, where, `${described} is stored externally but names no location`);
  }
  const offset = externalInteger(entries.get('offset'), 0, ctx, where, 'offset');
  const length = externalInteger(entries.get('length'), expectedBytes, ctx, where, 'length');
  if (length !== expectedBytes) {
    const reason = `${described} needs ${expectedBytes} bytes but its external data length is ${length}`;
    throw new ModelReadError('bad-weights', ctx.modelFile, where, reason);
  }
  const folder = path.dirname(ctx.modelFile);
  const reference = `${where} external data "${location}"`;
  const file = resolveInsideFolder(folder, location, ctx.modelFile, reference);
  const stat = fs.statSync(file);
  if (!stat.isFile()) throw new ModelReadError('missing-weights', ctx.modelFile, where, `external data "${location}" is not a regular file`);
  if (offset + length > stat.size) {
    const reason = `${described} needs bytes ${offset}..${offset + length} but the file has only ${stat.size} bytes`;
    throw new ModelReadError('missing-weights', file, byteRange(offset, length), reason);
  }
  return { file, folder, location, modelFile: ctx.modelFile, reference, offset, length, described };
}

function externalInteger(text: string | undefined, fallback: number, ctx: TensorContext, where: string, key: string): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new ModelReadError('bad-weights', ctx.modelFile, where, `external data ${key} "${text}" is not a byte count`);
  }
  return value;
}

function byteRange(offset: number, length: number): string {
  return `bytes ${offset}..${offset + length}`;
}

/**
 * Reads the region when the weights are loaded. The file may have changed or gone since the model was read, or been
 * replaced by a link leading out of the folder: openInsideFolder checks the location again right before opening it.
 */
function readRegion(region: ExternalRegion): Uint8Array {
  const where = byteRange(region.offset, region.length);
  const gone = () => new ModelReadError('missing-weights', region.file, where, `the external data of ${region.described} can no longer be opened`);
  const fd = openInsideFolder(region.folder, region.location, region.modelFile, region.reference);
  if (fd === undefined) throw gone();
  const bytes = new Uint8Array(region.length);
  try {
    for (let done = 0; done < region.length;) {
      const n = fs.readSync(fd, bytes, done, region.length - done, region.offset + done);
      if (n === 0) throw new ModelReadError('missing-weights', region.file, where, `the file ends before the external data of ${region.described}`);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return bytes;
}

/** The engine-facing view of a constant: same lazy values, labelled with its storage type. */
export function asWeight(tensor: ConstTensor): WeightTensor {
  const load = tensor.shared ? () => tensor.values().slice() : () => tensor.values();
  return { name: tensor.name, shape: tensor.shape, storage: dataTypeName(tensor.dataType), load };
}
