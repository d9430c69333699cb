// Builders for tiny ONNX files used by the ONNX reader tests (encoded with onnx-proto, as real exporters would).
import { nodeFileAccess } from '../../src/node/nodeFileAccess';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { isModelReadError, type ModelReadError, type ReadErrorCode } from '../../src/engine/errors';
import { resolveReadOptions, type ReadOptions } from '../../src/engine/options';
import type { LayerGraph, LayerNode } from '../../src/engine/ir';
import { readOnnx } from '../../src/engine/readers/onnx';

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const INT64 = onnx.TensorProto.DataType.INT64;

export type Storage = 'raw' | 'float_data' | 'double' | 'float16-raw' | 'float16-int32';

/** Little-endian bytes of `values` as float32, written through a DataView (raw_data layout). */
export function float32Bytes(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return bytes;
}

/** IEEE half-precision bits of a value exactly representable in float16 (tests use such values). */
export function float16Bits(value: number): number {
  if (value === 0) return 0;
  const sign = value < 0 ? 0x8000 : 0;
  const abs = Math.abs(value);
  const exponent = Math.floor(Math.log2(abs));
  const fraction = Math.round((abs / 2 ** exponent - 1) * 1024);
  return sign | ((exponent + 15) << 10) | fraction;
}

export function tensor(name: string, dims: number[], values: readonly number[], storage: Storage = 'raw'): onnx.ITensorProto {
  switch (storage) {
    case 'raw':
      return { name, dims, dataType: FLOAT, rawData: float32Bytes(values) };
    case 'float_data':
      return { name, dims, dataType: FLOAT, floatData: [...values] };
    case 'double':
      return { name, dims, dataType: onnx.TensorProto.DataType.DOUBLE, doubleData: [...values] };
    case 'float16-raw': {
      const bytes = new Uint8Array(values.length * 2);
      const view = new DataView(bytes.buffer);
      values.forEach((v, i) => view.setUint16(i * 2, float16Bits(v), true));
      return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT16, rawData: bytes };
    }
    case 'float16-int32':
      return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT16, int32Data: values.map(float16Bits) };
  }
}

export function int64Tensor(name: string, values: readonly number[], dims = [values.length]): onnx.ITensorProto {
  return { name, dims, dataType: INT64, int64Data: [...values] };
}

export function valueInfo(name: string, dims: (number | string | null)[] | undefined, elemType = FLOAT): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: dims && { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : d === null ? {} : { dimParam: d })) },
      },
    },
  };
}

type AttrValue = number | number[] | string | { tensor: onnx.ITensorProto } | { graph: onnx.IGraphProto } | { float: number } | { floats: number[] };

const A = onnx.AttributeProto.AttributeType;

/** Integers become INT/INTS; wrap in {float}/{floats} for FLOAT attributes. */
function attribute(name: string, value: AttrValue): onnx.IAttributeProto {
  if (typeof value === 'number') return { name, type: A.INT, i: value };
  if (typeof value === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: A.INTS, ints: value };
  if ('tensor' in value) return { name, type: A.TENSOR, t: value.tensor };
  if ('graph' in value) return { name, type: A.GRAPH, g: value.graph };
  if ('float' in value) return { name, type: A.FLOAT, f: value.float };
  return { name, type: A.FLOATS, floats: value.floats };
}

export function node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, name = ''): onnx.INodeProto {
  return { opType, input: inputs, output: outputs, name, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) };
}

export interface ModelSpec {
  nodes: onnx.INodeProto[];
  inputs: onnx.IValueInfoProto[];
  outputs: onnx.IValueInfoProto[];
  initializers?: onnx.ITensorProto[];
  valueInfo?: onnx.IValueInfoProto[];
  opset?: number;
  irVersion?: number;
}

export function graphProto(spec: Omit<ModelSpec, 'opset' | 'irVersion'>): onnx.IGraphProto {
  return { name: 'test', node: spec.nodes, input: spec.inputs, output: spec.outputs, initializer: spec.initializers ?? [], valueInfo: spec.valueInfo ?? [] };
}

export function encodeModel(spec: ModelSpec): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: spec.irVersion ?? 7,
    producerName: 'leaklint-test',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: spec.opset ?? 13 }],
    graph: graphProto(spec),
  }).finish();
}

const tempDirs: string[] = [];

export function tempDir(prefix = 'leaklint-onnx-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Deletes every folder tempDir() made; register with node:test `after`. */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

export function writeFile(dir: string, name: string, bytes: Uint8Array | string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

export function read(file: string, options: ReadOptions = {}): Promise<LayerGraph> {
  return readOnnx(nodeFileAccess, file, resolveReadOptions(options));
}

/** Writes `spec` to a fresh temp folder and reads it back. */
export function readSpec(spec: ModelSpec, options: ReadOptions = {}): Promise<LayerGraph> {
  return read(writeFile(tempDir(), 'model.onnx', encodeModel(spec)), options);
}

export function findNode(graph: LayerGraph, predicate: (n: LayerNode) => boolean): LayerNode {
  const found = graph.nodes.find(predicate);
  assert.ok(found, 'node not found');
  return found;
}

/** Asserts `run` throws a ModelReadError with `code`, naming `file`, with a one-line readable reason. */
export async function assertReadError(run: () => unknown, code: ReadErrorCode, file: string, reasonPattern?: RegExp): Promise<ModelReadError> {
  let caught: unknown;
  try {
    await run();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected a ModelReadError(${code}) but nothing was thrown`);
  assert.ok(isModelReadError(caught), `expected a ModelReadError(${code}), got ${String(caught)}`);
  assert.equal(caught.code, code, `code (message: ${caught.message})`);
  assert.equal(caught.file, file);
  assert.ok(caught.reason.length > 10 && !/\n|undefined|\[object/.test(caught.reason), `unreadable reason "${caught.reason}"`);
  if (reasonPattern) assert.match(caught.reason, reasonPattern);
  return caught;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what = 'values'): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}
