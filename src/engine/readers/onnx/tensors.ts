// Constant tensors (initializers, Constant nodes, folded chains) whose values stay in the file's bytes until asked for.
import { onnx } from 'onnx-proto';
import type { Shape, WeightTensor } from '../../ir';
import { sizeOf } from '../../ir';
import { ModelReadError } from '../../errors';
import { DECODABLE, dataTypeName } from './dataTypes';
import { externalReference, parseByteCount, type ExternalData } from './externalData';
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
  /** The external data file the values come from, if any. */
  readonly files?: readonly string[];
  /** Every element is this one value (a ConstantOfShape fill, or a view of one). */
  readonly fill?: number;
}

/** Labels and limits for reading tensors out of one model file. */
export interface TensorContext {
  modelFile: string;
  maxTensorElements: number;
  /** false: external data files are not opened (untrusted workspace). */
  externalData?: boolean;
  /** The external data read with the model (absent when externalData is false). */
  external?: ExternalData;
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
    const stored = externalBytes(proto, expected, ctx, where, described);
    return { ...lazy(() => decodeRaw(stored.bytes, count, bytes, read)), files: [stored.file] };
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

/** Checks an external_data reference and returns the bytes read for it with the model (see externalData.ts). */
function externalBytes(
  proto: onnx.ITensorProto,
  expectedBytes: number,
  ctx: TensorContext,
  where: string,
  described: string,
): { bytes: Uint8Array; file: string } {
  const reference = externalReference(proto);
  const location = reference.location;
  if (location === undefined) {
    throw new ModelReadError('bad-weights', ctx.modelFile, where, `${described} is stored externally but names no location`);
  }
  const offset = externalInteger(reference.offset, 0, ctx, where, 'offset');
  const length = externalInteger(reference.length, expectedBytes, ctx, where, 'length');
  if (length !== expectedBytes) {
    const reason = `${described} needs ${expectedBytes} bytes but its external data length is ${length}`;
    throw new ModelReadError('bad-weights', ctx.modelFile, where, reason);
  }
  const target = ctx.external?.file(location);
  if (!target) throw new ModelReadError('missing-weights', ctx.modelFile, where, `the external data "${location}" of ${described} was not read`);
  if (target.kind === 'error') throw new ModelReadError(target.code, ctx.modelFile, `${where} external data "${location}"`, target.reason);
  if (offset + length > target.size) {
    const reason = `${described} needs bytes ${offset}..${offset + length} but the file has only ${target.size} bytes`;
    throw new ModelReadError('missing-weights', target.file, byteRange(offset, length), reason);
  }
  const bytes = ctx.external!.bytes(target.file, offset, length);
  if (!bytes) {
    throw new ModelReadError('missing-weights', target.file, byteRange(offset, length), `the file ends before the external data of ${described}`);
  }
  return { bytes, file: target.file };
}

function externalInteger(text: string | undefined, fallback: number, ctx: TensorContext, where: string, key: string): number {
  if (text === undefined) return fallback;
  const value = parseByteCount(text);
  if (value === undefined) throw new ModelReadError('bad-weights', ctx.modelFile, where, `external data ${key} "${text}" is not a byte count`);
  return value;
}

function byteRange(offset: number, length: number): string {
  return `bytes ${offset}..${offset + length}`;
}

/** The engine-facing view of a constant: same lazy values, labelled with its storage type. */
export function asWeight(tensor: ConstTensor): WeightTensor {
  const load = tensor.shared ? () => tensor.values().slice() : () => tensor.values();
  return {
    name: tensor.name,
    shape: tensor.shape,
    storage: dataTypeName(tensor.dataType),
    ...(tensor.files ? { files: tensor.files } : {}),
    ...(tensor.fill !== undefined ? { uniform: true } : {}),
    load,
  };
}
