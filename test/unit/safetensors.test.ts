// safetensors reader and writer: round trips, half-precision decoding of known bit patterns, and every kind of
// broken or hostile file as a located ModelReadError (never a crash, a hang or an allocation from a declared size).
import { files } from './files';
import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  encodeSafetensors,
  MAX_HEADER_BYTES,
  parseSafetensors,
  parseSafetensorsWithMetadata,
  readSafetensors,
  readSafetensorsWithMetadata,
  type NamedTensor,
} from '../../src/engine/readers/safetensors';
import { assertReadError, removeTempDirs, tempDir, writeFile } from './onnx-helpers';

after(removeTempDirs);

const WHERE = 'grads.safetensors';

/** A safetensors file from a header object (serialized as is, unpadded) and raw data bytes. */
function build(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  return withHeaderBytes(json, data);
}

function withHeaderBytes(headerBytes: Uint8Array, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(8 + headerBytes.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  out.set(data, 8 + headerBytes.byteLength);
  return out;
}

/** Little-endian u16 bit patterns as bytes. */
function u16Bytes(bits: number[]): Uint8Array {
  const bytes = new Uint8Array(bits.length * 2);
  const view = new DataView(bytes.buffer);
  bits.forEach((b, i) => view.setUint16(i * 2, b, true));
  return bytes;
}

function f32Bytes(values: number[], leadingBytes = 0): Uint8Array {
  const bytes = new Uint8Array(leadingBytes + values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(leadingBytes + i * 4, v, true));
  return bytes;
}

const tensor = (shape: number[], values: number[]): NamedTensor => ({ shape, values: Float64Array.from(values) });
const parse = (bytes: Uint8Array, options = {}) => parseSafetensors(bytes, WHERE, options);
const oneF32 = (info: Record<string, unknown>, data = f32Bytes([1, 2, 3, 4])) =>
  build({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16], ...info } }, data);

describe('safetensors round trip', () => {
  const tensors = new Map<string, NamedTensor>([
    ['conv_1.weight', tensor([2, 1, 2, 2], [0.1, -0.2, 1e-30, 3.5, -0, 7, 1 / 3, 2 ** -149])],
    ['conv_1.bias', tensor([2], [Number.MAX_VALUE, -Number.MIN_VALUE])],
    ['scalar', tensor([], [42])],
    ['empty', tensor([0, 3], [])],
  ]);

  it('F64 keeps every value bit for bit, in order, with the shapes and metadata', async () => {
    const bytes = encodeSafetensors(tensors, 'F64', { model: 'cnn6', label: '3' });
    const { tensors: decoded, metadata } = parseSafetensorsWithMetadata(bytes, WHERE);
    assert.deepEqual([...decoded.keys()], [...tensors.keys()]);
    for (const [name, t] of tensors) {
      assert.deepEqual(decoded.get(name)!.shape, t.shape, name);
      assert.deepEqual(decoded.get(name)!.values, t.values, name);
    }
    assert.ok(Object.is(decoded.get('conv_1.weight')!.values[4], -0), 'negative zero survives');
    assert.deepEqual(metadata, { model: 'cnn6', label: '3' });
  });

  it('F32 rounds each value to float32 and nothing else', async () => {
    const decoded = parse(encodeSafetensors(tensors, 'F32'));
    for (const [name, t] of tensors) {
      assert.deepEqual(decoded.get(name)!.values, Float64Array.from(t.values, Math.fround), name);
    }
    // float32 overflows to infinity and underflows to (signed) zero, as IEEE rounding says.
    assert.equal(decoded.get('conv_1.bias')!.values[0], Infinity);
    assert.ok(Object.is(decoded.get('conv_1.bias')!.values[1], -0));
  });

  it('pads the header to 8 bytes with spaces so that the data is aligned', async () => {
    for (const dtype of ['F32', 'F64'] as const) {
      const bytes = encodeSafetensors(tensors, dtype, { a: 'b' });
      const headerBytes = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      assert.equal(headerBytes % 8, 0);
      assert.equal(bytes[8], '{'.charCodeAt(0));
      assert.match(new TextDecoder().decode(bytes.subarray(8, 8 + headerBytes)), /\} *$/);
    }
  });

  it('reads a file and its metadata; no metadata reads as {}', async () => {
    const dir = tempDir('leaklint-safetensors-');
    const file = writeFile(dir, 'g.safetensors', encodeSafetensors(tensors, 'F64', { image: 'chelsea.png' }));
    assert.deepEqual((await readSafetensors(files, file)).get('conv_1.bias')!.values, tensors.get('conv_1.bias')!.values);
    assert.deepEqual((await readSafetensorsWithMetadata(files, file)).metadata, { image: 'chelsea.png' });
    assert.deepEqual(parseSafetensorsWithMetadata(encodeSafetensors(tensors, 'F64'), WHERE).metadata, {});
  });

  it('the encoder refuses values that do not fill the shape and the reserved name', async () => {
    assert.throws(() => encodeSafetensors(new Map([['w', tensor([2, 2], [1, 2, 3])]]), 'F64'), /shape \[2,2\] \(4 elements\) but 3 values/);
    assert.throws(() => encodeSafetensors(new Map([['__metadata__', tensor([1], [1])]]), 'F64'), /reserved/);
  });
});

describe('safetensors decoding', () => {
  it('F16 bit patterns', async () => {
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125],
      [0x7bff, 65504],
      [0x0400, 2 ** -14], // smallest normal
      [0x0001, 2 ** -24], // smallest subnormal
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
      [0x8000, -0],
    ];
    const values = parse(build({ h: { dtype: 'F16', shape: [cases.length], data_offsets: [0, cases.length * 2] } }, u16Bytes(cases.map((c) => c[0])))).get(
      'h',
    )!.values;
    assert.deepEqual(
      [...values],
      cases.map((c) => c[1]),
    );
    assert.ok(Object.is(values[cases.length - 1], -0));
    const nan = parse(build({ h: { dtype: 'F16', shape: [1], data_offsets: [0, 2] } }, u16Bytes([0x7e00]))).get('h')!.values;
    assert.ok(Number.isNaN(nan[0]));
  });

  it('BF16 bit patterns', async () => {
    const cases: [number, number][] = [
      [0x3f80, 1],
      [0xc040, -3],
      [0x4049, 3.140625],
      [0x3dcd, 0.10009765625],
      [0x7f7f, 3.3895313892515355e38], // largest finite
      [0x0080, 2 ** -126], // smallest normal
      [0x0001, 2 ** -133], // smallest subnormal
      [0x7f80, Infinity],
      [0xff80, -Infinity],
      [0x8000, -0],
    ];
    const values = parse(build({ b: { dtype: 'BF16', shape: [2, 5], data_offsets: [0, 20] } }, u16Bytes(cases.map((c) => c[0])))).get('b')!;
    assert.deepEqual(values.shape, [2, 5]);
    assert.deepEqual(
      [...values.values],
      cases.map((c) => c[1]),
    );
    assert.ok(Object.is(values.values[9], -0));
  });

  it('reads unaligned data, tensors in any order, and header padding', async () => {
    // One F16 value first, so the F32 tensor starts at data offset 2 (unaligned); the header is space-padded.
    const data = new Uint8Array(2 + 8);
    data.set(u16Bytes([0x3c00]), 0);
    data.set(f32Bytes([1.5, -2.25]), 2);
    const header =
      JSON.stringify({ late: { dtype: 'F32', shape: [2], data_offsets: [2, 10] }, early: { dtype: 'F16', shape: [], data_offsets: [0, 2] } }) + '   ';
    // A one-byte prefix makes the whole file unaligned in memory too.
    const file = build(header, data);
    const shifted = new Uint8Array(file.byteLength + 1).subarray(1);
    shifted.set(file);
    const decoded = parse(shifted);
    assert.deepEqual([...decoded.get('late')!.values], [1.5, -2.25]);
    assert.deepEqual(decoded.get('early'), { shape: [], values: Float64Array.from([1]) });
  });
});

describe('safetensors bad input', () => {
  it('an empty or missing file', async () => {
    await assertReadError(() => parse(new Uint8Array(0)), 'empty-file', WHERE, /empty/);
    const missing = `${tempDir('leaklint-safetensors-')}/nope.safetensors`;
    await assertReadError(() => readSafetensors(files, missing), 'invalid-model', missing, /not found/);
  });

  it('a file too short for the length field', async () => {
    const error = await assertReadError(() => parse(new Uint8Array(5)), 'truncated', WHERE, /5 bytes, too short for the 8-byte header length/);
    assert.equal(error.where, 'byte 0');
  });

  it('a hostile header length is refused without allocating', async () => {
    const hostile = new Uint8Array(16);
    new DataView(hostile.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
    await assertReadError(() => parse(hostile), 'too-large', WHERE, /header length is 18446744073709551615 bytes, over the 100000000-byte header limit/);
    new DataView(hostile.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES) + 1n, true);
    await assertReadError(() => parse(hostile), 'too-large', WHERE, /header limit/);
  });

  it('a header length beyond the end of the file', async () => {
    const bytes = build({});
    new DataView(bytes.buffer).setBigUint64(0, 100n, true);
    await assertReadError(() => parse(bytes), 'truncated', WHERE, /header length is 100 bytes but only 2 bytes follow it/);
  });

  it('a header that is not UTF-8, not JSON or not an object', async () => {
    await assertReadError(() => parse(withHeaderBytes(Uint8Array.from([0x7b, 0xff, 0x7d]))), 'not-a-model', WHERE, /not valid UTF-8/);
    const notJson = await assertReadError(() => parse(build('{"w": {"dtype": "F32",')), 'not-a-model', WHERE, /not valid JSON/);
    assert.equal(notJson.where, 'header');
    await assertReadError(() => parse(build([1, 2])), 'not-a-model', WHERE, /JSON array, not an object of tensors/);
    await assertReadError(() => parse(build('null')), 'not-a-model', WHERE, /JSON null/);
    await assertReadError(() => parse(build('')), 'not-a-model', WHERE, /not valid JSON/);
  });

  it('an unknown or unsupported dtype names the tensor', async () => {
    const unknown = await assertReadError(
      () => parse(oneF32({ dtype: 'F24' })),
      'invalid-model',
      WHERE,
      /dtype "F24" is unknown \(supported: F64, F32, F16, BF16\)/,
    );
    assert.equal(unknown.where, 'header, tensor "w"');
    await assertReadError(() => parse(oneF32({ dtype: 'I64', shape: [2] })), 'invalid-model', WHERE, /dtype I64 is not supported for gradients/);
    await assertReadError(() => parse(oneF32({ dtype: 7 })), 'invalid-model', WHERE, /no string "dtype"/);
    await assertReadError(() => parse(oneF32({ dtype: 'toString' })), 'invalid-model', WHERE, /unknown/);
  });

  it('entries that are not objects, or lack shape or offsets', async () => {
    await assertReadError(() => parse(build({ w: 3 })), 'invalid-model', WHERE, /not an object with dtype, shape and data_offsets/);
    await assertReadError(() => parse(oneF32({ shape: 4 })), 'invalid-model', WHERE, /no "shape" array/);
    await assertReadError(() => parse(oneF32({ data_offsets: [0] })), 'invalid-model', WHERE, /no "data_offsets" pair/);
    await assertReadError(() => parse(oneF32({ data_offsets: undefined })), 'invalid-model', WHERE, /no "data_offsets" pair/);
  });

  it('negative, fractional or non-numeric dimensions', async () => {
    const negative = await assertReadError(() => parse(oneF32({ shape: [2, -2] })), 'bad-shape', WHERE, /dimension 1 is -2, not a non-negative integer/);
    assert.equal(negative.where, 'header, tensor "w"');
    await assertReadError(() => parse(oneF32({ shape: [1.5, 2] })), 'bad-shape', WHERE, /dimension 0 is 1.5/);
    await assertReadError(() => parse(oneF32({ shape: ['4'] })), 'bad-shape', WHERE, /dimension 0 is "4"/);
    await assertReadError(() => parse(oneF32({ shape: [2 ** 60] })), 'bad-shape', WHERE, /dimension 0 is 1152921504606847000, not a non-negative integer/);
  });

  it('a shape whose size does not match the offsets span', async () => {
    await assertReadError(() => parse(oneF32({ shape: [3] })), 'bad-weights', WHERE, /shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 16\] span 16/);
    await assertReadError(() => parse(oneF32({ dtype: 'F64' })), 'bad-weights', WHERE, /needs 32 bytes/);
  });

  it('offsets out of range, reversed or not integers', async () => {
    await assertReadError(
      () => parse(oneF32({ data_offsets: [0, 20] })),
      'truncated',
      WHERE,
      /data_offsets \[0, 20\] run past the end of the 16-byte data buffer/,
    );
    await assertReadError(() => parse(oneF32({ data_offsets: [16, 0] })), 'bad-weights', WHERE, /end before they begin/);
    await assertReadError(() => parse(oneF32({ data_offsets: [-4, 12] })), 'bad-weights', WHERE, /not non-negative integers/);
    await assertReadError(() => parse(oneF32({ data_offsets: [0, 1e300] })), 'bad-weights', WHERE, /not non-negative integers/);
    await assertReadError(() => parse(oneF32({ data_offsets: [0, '16'] })), 'bad-weights', WHERE, /not non-negative integers/);
  });

  it('overlapping tensors', async () => {
    const header = { a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } };
    const error = await assertReadError(() => parse(build(header, f32Bytes([1, 2, 3, 4]))), 'bad-weights', WHERE, /\[8, 16\] overlap tensor "a" at \[0, 12\]/);
    assert.equal(error.where, 'header, tensor "b"');
    // Empty tensors take no bytes and overlap nothing.
    const empty = { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, z: { dtype: 'F32', shape: [0], data_offsets: [8, 8] } };
    assert.equal(parse(build(empty, f32Bytes([1, 2, 3, 4]))).get('z')!.values.length, 0);
  });

  it('element counts over the limit are refused before anything is allocated', async () => {
    await assertReadError(() => parse(oneF32({}), { maxTensorElements: 3 }), 'too-large', WHERE, /shape \[4\] has 4 elements, over the 3-element limit/);
    // Declared sizes far beyond the file: refused by the default limit, or by the file size when the limit is lifted.
    await assertReadError(() => parse(oneF32({ shape: [2 ** 20, 2 ** 20, 2 ** 20] })), 'too-large', WHERE, /element limit/);
    const huge = { dtype: 'F64', shape: [2 ** 26, 2 ** 26], data_offsets: [0, 2 ** 55] };
    await assertReadError(() => parse(oneF32(huge), { maxTensorElements: Infinity }), 'bad-weights', WHERE, /not non-negative integers/);
    const large = { dtype: 'F64', shape: [2 ** 20, 2 ** 20], data_offsets: [0, 2 ** 43] };
    await assertReadError(() => parse(oneF32(large), { maxTensorElements: Infinity }), 'truncated', WHERE, /run past the end/);
  });

  it('metadata that is not a string map', async () => {
    await assertReadError(() => parse(build({ __metadata__: { label: 3 } })), 'invalid-model', WHERE, /is number, not a string/);
    await assertReadError(() => parse(build({ __metadata__: [] })), 'invalid-model', WHERE, /not an object of strings/);
  });

  it('files over maxFileBytes', async () => {
    const file = writeFile(tempDir('leaklint-safetensors-'), 'big.safetensors', oneF32({}));
    await assertReadError(() => readSafetensors(files, file, { maxFileBytes: 20 }), 'too-large', file, /over the 20-byte limit/);
  });
});
