// safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian u64 header length N,
// N bytes of UTF-8 JSON mapping tensor names to { dtype, shape, data_offsets: [begin, end] } (plus an optional
// "__metadata__" string map), then the data buffer; offsets are relative to the start of that buffer.
// Used for gradients a federated client really shared. Every value is decoded to float64.
import * as path from 'path';
import { ModelReadError } from '../errors';
import type { FileAccess } from '../files/fileAccess';
import { halfToFloat } from '../float16';
import { resolveReadOptions, type ReadOptions } from '../options';
import { readModelBytes } from './modelFile';

export interface NamedTensor {
  shape: number[];
  values: Float64Array;
}

export type SafetensorsReadOptions = Pick<ReadOptions, 'maxFileBytes' | 'maxTensorElements'>;

export interface SafetensorsContents {
  tensors: Map<string, NamedTensor>;
  metadata: Record<string, string>;
}

/** Headers larger than this are refused before decoding (the reference implementation uses the same cap). */
export const MAX_HEADER_BYTES = 100_000_000;

const LENGTH_FIELD_BYTES = 8;
const METADATA_KEY = '__metadata__';

type Decoder = (view: DataView, byteOffset: number) => number;

// BF16 is the top half of a float32: shift its bits into place and read them back as a float32.
const bf16Scratch = new DataView(new ArrayBuffer(4));
function bfloat16At(view: DataView, byteOffset: number): number {
  bf16Scratch.setUint32(0, view.getUint16(byteOffset, true) << 16, false);
  return bf16Scratch.getFloat32(0, false);
}

const DECODERS: Record<string, { bytes: number; read: Decoder }> = {
  F64: { bytes: 8, read: (v, o) => v.getFloat64(o, true) },
  F32: { bytes: 4, read: (v, o) => v.getFloat32(o, true) },
  F16: { bytes: 2, read: (v, o) => halfToFloat(v.getUint16(o, true)) },
  BF16: { bytes: 2, read: bfloat16At },
};

// Valid safetensors dtypes we do not decode, so that the message can tell "unsupported" from "garbage".
const OTHER_KNOWN_DTYPES = new Set([
  'BOOL',
  'U8',
  'I8',
  'U16',
  'I16',
  'U32',
  'I32',
  'U64',
  'I64',
  'F8_E4M3',
  'F8_E5M2',
  'F8_E8M0',
  'F4',
  'F6_E2M3',
  'F6_E3M2',
  'C64',
]);

/** Reads a .safetensors file into float64 tensors. Throws ModelReadError naming the file, the place and the reason. */
export async function readSafetensors(files: FileAccess, file: string, options: SafetensorsReadOptions = {}): Promise<Map<string, NamedTensor>> {
  return (await readSafetensorsWithMetadata(files, file, options)).tensors;
}

/** readSafetensors plus the "__metadata__" string map ({} when absent). */
export async function readSafetensorsWithMetadata(files: FileAccess, file: string, options: SafetensorsReadOptions = {}): Promise<SafetensorsContents> {
  const abs = path.resolve(file);
  const bytes = await readModelBytes(files, abs, resolveReadOptions(options));
  return parseSafetensorsWithMetadata(bytes, abs, options);
}

/** Decodes safetensors bytes; `where` names them in errors (usually the file path). */
export function parseSafetensors(bytes: Uint8Array, where: string, options: SafetensorsReadOptions = {}): Map<string, NamedTensor> {
  return parseSafetensorsWithMetadata(bytes, where, options).tensors;
}

interface TensorEntry {
  name: string;
  shape: number[];
  decoder: { bytes: number; read: Decoder };
  begin: number;
  end: number;
}

export function parseSafetensorsWithMetadata(bytes: Uint8Array, where: string, options: SafetensorsReadOptions = {}): SafetensorsContents {
  const opts = resolveReadOptions(options);
  const fail = (code: ModelReadError['code'], place: string, reason: string): never => {
    throw new ModelReadError(code, where, place, reason);
  };

  if (bytes.byteLength === 0) fail('empty-file', '', 'the file is empty');
  if (bytes.byteLength > opts.maxFileBytes) fail('too-large', '', `the data is ${bytes.byteLength} bytes, over the ${opts.maxFileBytes}-byte limit`);
  if (bytes.byteLength < LENGTH_FIELD_BYTES) {
    fail('truncated', 'byte 0', `the file is ${bytes.byteLength} bytes, too short for the 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Compare as a bigint first: a hostile u64 may not even be a safe integer.
  const declaredHeaderBytes = view.getBigUint64(0, true);
  if (declaredHeaderBytes > BigInt(MAX_HEADER_BYTES)) {
    fail(
      'too-large',
      'byte 0',
      `the header length is ${declaredHeaderBytes} bytes, over the ${MAX_HEADER_BYTES}-byte header limit (is this a safetensors file?)`,
    );
  }
  const headerBytes = Number(declaredHeaderBytes);
  const afterLength = bytes.byteLength - LENGTH_FIELD_BYTES;
  if (headerBytes > afterLength) {
    fail('truncated', 'byte 0', `the header length is ${headerBytes} bytes but only ${afterLength} bytes follow it`);
  }

  const header = parseHeader(bytes.subarray(LENGTH_FIELD_BYTES, LENGTH_FIELD_BYTES + headerBytes), fail);
  const dataStart = LENGTH_FIELD_BYTES + headerBytes;
  const dataBytes = bytes.byteLength - dataStart;

  let metadata: Record<string, string> = {};
  const entries: TensorEntry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      metadata = checkMetadata(info, fail);
      continue;
    }
    entries.push(checkEntry(name, info, dataBytes, opts.maxTensorElements, fail));
  }

  // Tensors may be stored in any order, but no two may share bytes.
  const byBegin = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < byBegin.length; i++) {
    const previous = byBegin[i - 1];
    const current = byBegin[i];
    if (current.begin < previous.end && current.end > current.begin) {
      fail(
        'bad-weights',
        tensorPlace(current.name),
        `data_offsets [${current.begin}, ${current.end}] overlap tensor "${previous.name}" at [${previous.begin}, ${previous.end}]`,
      );
    }
  }

  const tensors = new Map<string, NamedTensor>();
  for (const entry of entries) {
    // Sizes were checked against the file above, so this allocation is bounded by the file size.
    const count = (entry.end - entry.begin) / entry.decoder.bytes;
    const values = new Float64Array(count);
    const first = dataStart + entry.begin;
    for (let i = 0; i < count; i++) values[i] = entry.decoder.read(view, first + i * entry.decoder.bytes);
    tensors.set(entry.name, { shape: entry.shape, values });
  }
  return { tensors, metadata };
}

type Fail = (code: ModelReadError['code'], place: string, reason: string) => never;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const tensorPlace = (name: string): string => `header, tensor ${JSON.stringify(name)}`;

function parseHeader(headerBytes: Uint8Array, fail: Fail): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    return fail('not-a-model', 'header', 'the header is not valid UTF-8 (is this a safetensors file?)');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    const detail = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return fail('not-a-model', 'header', `the header is not valid JSON (${detail})`);
  }
  if (!isPlainObject(parsed)) {
    return fail(
      'not-a-model',
      'header',
      `the header is JSON ${Array.isArray(parsed) ? 'array' : parsed === null ? 'null' : typeof parsed}, not an object of tensors`,
    );
  }
  return parsed;
}

function checkMetadata(info: unknown, fail: Fail): Record<string, string> {
  if (!isPlainObject(info)) return fail('invalid-model', `header, ${METADATA_KEY}`, 'is not an object of strings');
  for (const [key, value] of Object.entries(info)) {
    if (typeof value !== 'string') fail('invalid-model', `header, ${METADATA_KEY}.${key}`, `is ${typeof value}, not a string`);
  }
  return info as Record<string, string>;
}

function checkEntry(name: string, info: unknown, dataBytes: number, maxElements: number, fail: Fail): TensorEntry {
  const place = tensorPlace(name);
  if (!isPlainObject(info)) return fail('invalid-model', place, 'is not an object with dtype, shape and data_offsets');

  const dtype = info.dtype;
  if (typeof dtype !== 'string') return fail('invalid-model', place, 'has no string "dtype"');
  const decoder = Object.prototype.hasOwnProperty.call(DECODERS, dtype) ? DECODERS[dtype] : undefined;
  if (!decoder) {
    const supported = Object.keys(DECODERS).join(', ');
    return OTHER_KNOWN_DTYPES.has(dtype)
      ? fail('invalid-model', place, `dtype ${dtype} is not supported for gradients (only ${supported})`)
      : fail('invalid-model', place, `dtype ${JSON.stringify(dtype).slice(0, 40)} is unknown (supported: ${supported})`);
  }

  const shape = info.shape;
  if (!Array.isArray(shape)) return fail('invalid-model', place, 'has no "shape" array');
  shape.forEach((dim: unknown, axis) => {
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 0) {
      fail('bad-shape', place, `dimension ${axis} is ${JSON.stringify(dim)}, not a non-negative integer`);
    }
  });
  const dims = shape as number[];
  // A zero dimension makes the tensor empty whatever the others say (and avoids Infinity × 0 = NaN); otherwise
  // a product that overflows to Infinity is still over any limit.
  const elements = dims.includes(0) ? 0 : dims.reduce((a, b) => a * b, 1);
  if (elements > maxElements) {
    fail('too-large', place, `shape [${shape.join(',')}] has ${elements} elements, over the ${maxElements}-element limit`);
  }

  const offsets = info.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2) return fail('invalid-model', place, 'has no "data_offsets" pair [begin, end]');
  const [begin, end] = offsets as unknown[];
  for (const offset of [begin, end]) {
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
      fail('bad-weights', place, `data_offsets [${JSON.stringify(begin)}, ${JSON.stringify(end)}] are not non-negative integers`);
    }
  }
  const [from, to] = [begin as number, end as number];
  if (from > to) fail('bad-weights', place, `data_offsets [${from}, ${to}] end before they begin`);
  if (to > dataBytes) fail('truncated', place, `data_offsets [${from}, ${to}] run past the end of the ${dataBytes}-byte data buffer`);
  const expectedBytes = elements * decoder.bytes;
  if (to - from !== expectedBytes) {
    fail('bad-weights', place, `shape [${shape.join(',')}] of ${dtype} needs ${expectedBytes} bytes but data_offsets [${from}, ${to}] span ${to - from}`);
  }
  return { name, shape: [...dims], decoder, begin: from, end: to };
}

/**
 * Encodes tensors as safetensors (in the map's order, packed back to back). The header is padded with spaces to a
 * multiple of 8 bytes so that every tensor's data starts 8-byte aligned within the file.
 */
export function encodeSafetensors(tensors: Map<string, NamedTensor>, dtype: 'F32' | 'F64', metadata?: Record<string, string>): Uint8Array {
  const elementBytes = dtype === 'F64' ? 8 : 4;
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header[METADATA_KEY] = metadata;
  let offset = 0;
  for (const [name, tensor] of tensors) {
    if (name === METADATA_KEY) throw new Error(`encodeSafetensors: "${METADATA_KEY}" is reserved and cannot name a tensor`);
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    if (count !== tensor.values.length) {
      throw new Error(`encodeSafetensors: tensor "${name}" has shape [${tensor.shape.join(',')}] (${count} elements) but ${tensor.values.length} values`);
    }
    header[name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + count * elementBytes] };
    offset += count * elementBytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const paddedHeaderBytes = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(LENGTH_FIELD_BYTES + paddedHeaderBytes + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(paddedHeaderBytes), true);
  out.set(json, LENGTH_FIELD_BYTES);
  out.fill(0x20, LENGTH_FIELD_BYTES + json.byteLength, LENGTH_FIELD_BYTES + paddedHeaderBytes);
  let position = LENGTH_FIELD_BYTES + paddedHeaderBytes;
  for (const tensor of tensors.values()) {
    for (const value of tensor.values) {
      if (dtype === 'F64') view.setFloat64(position, value, true);
      else view.setFloat32(position, value, true);
      position += elementBytes;
    }
  }
  return out;
}
