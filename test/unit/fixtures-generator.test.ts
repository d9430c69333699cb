// The generated model fixtures (test/fixtures/generated) must be exactly what scripts/generate-fixtures.ts writes,
// must be well-formed, and every format of a network must hold the same weights and compute the same function.
// TF.js files are checked with a small NHWC interpreter written here independently of the generator (TF SAME
// padding, HWIO kernels, (h, w, c) flatten), against onnxruntime running the ONNX files.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Long from 'long';
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { listFilesRecursively as listFiles, type FixtureManifest, type ManifestFixture, type ManifestNetwork } from '../../scripts/fixtures/generate';

// onnxruntime-node writes a telemetry log into $TMPDIR per process unless this is set before the first session.
process.env.ORT_DISABLE_TELEMETRY = '1';

const REPO = path.resolve(__dirname, '..', '..');
const FIXTURES = path.join(REPO, 'test', 'fixtures', 'generated');
const manifest: FixtureManifest = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8'));

const networkOf = (fixture: ManifestFixture): ManifestNetwork => manifest.networks.find((n) => n.name === fixture.network)!;
const fixturesIn = (format: ManifestFixture['format']): ManifestFixture[] => manifest.fixtures.filter((f) => f.format === format);
const fixturePath = (relative: string): string => path.join(FIXTURES, ...relative.split('/'));
const product = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
const toNumber = (v: number | Long | null | undefined): number => (Long.isLong(v) ? (v as Long).toNumber() : Number(v ?? 0));

describe('generated fixtures match the generator', () => {
  let tempDir = '';
  before(() => {
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-fixtures-'));
  });
  after(() => fs.rmSync(tempDir, { recursive: true, force: true }));

  test('regenerating gives byte-identical files (run `npx tsx scripts/generate-fixtures.ts` after changing the generator)', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', path.join('scripts', 'generate-fixtures.ts'), tempDir], { cwd: REPO, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const committed = listFiles(FIXTURES);
    const regenerated = listFiles(tempDir);
    assert.deepEqual(committed, regenerated, 'the set of files differs');
    const differing = committed.filter((f) => !fs.readFileSync(path.join(FIXTURES, f)).equals(fs.readFileSync(path.join(tempDir, f))));
    assert.deepEqual(differing, [], 'these files differ from a fresh generation');
  });

  test('the manifest lists every file with its size, and the fixtures stay small', () => {
    const listed = manifest.fixtures.flatMap((f) => f.files);
    assert.deepEqual([...listed.map((f) => f.path), 'README.md', 'manifest.json'].sort(), listFiles(FIXTURES));
    for (const file of listed) assert.equal(fs.statSync(fixturePath(file.path)).size, file.bytes, file.path);
    assert.ok(listed.reduce((n, f) => n + f.bytes, 0) < 10 * 1024 * 1024);
  });
});

describe('network shapes', () => {
  const layerShapes = (name: string, op: string): number[][] =>
    manifest.networks
      .find((n) => n.name === name)!
      .layers.filter((l) => l.op === op)
      .map((l) => l.outputShape.slice(1));

  test('CNN6 and CNN6-d follow the R-GAP table (docs/algorithm.md §4.5)', () => {
    assert.deepEqual(layerShapes('cnn6', 'conv'), [
      [12, 17, 17],
      [36, 9, 9],
      [36, 9, 9],
      [36, 9, 9],
      [64, 5, 5],
      [128, 5, 5],
    ]);
    assert.deepEqual(layerShapes('cnn6d', 'conv'), [
      [12, 17, 17],
      [20, 9, 9],
      [36, 9, 9],
      [36, 9, 9],
      [64, 5, 5],
      [128, 5, 5],
    ]);
    assert.deepEqual(layerShapes('cnn6', 'flatten'), [[3200]]);
    assert.deepEqual(layerShapes('cnn6d', 'flatten'), [[3200]]);
  });

  test('the gradient-matching targets: VGG-style, conv/BN/max-pool and the small ResNet with a projection shortcut', () => {
    assert.deepEqual(layerShapes('vgg-style', 'conv'), [
      [32, 32, 32],
      [32, 32, 32],
      [64, 16, 16],
      [64, 16, 16],
    ]);
    assert.deepEqual(layerShapes('vgg-style', 'maxPool'), [
      [32, 16, 16],
      [64, 8, 8],
    ]);
    assert.deepEqual(layerShapes('conv-bn-maxpool', 'maxPool'), [
      [16, 16, 16],
      [32, 8, 8],
    ]);
    const resnet = manifest.networks.find((n) => n.name === 'resnet-small')!;
    const adds = resnet.layers.filter((l) => l.op === 'add');
    assert.equal(adds.length, 2);
    // The second block's skip is a 1×1 stride-2 conv (+ BN), not the block input.
    const [, projectionAdd] = adds;
    const shortcutBn = resnet.layers.find((l) => l.name === projectionAdd.inputs[1])!;
    const projection = resnet.layers.find((l) => l.name === shortcutBn.inputs[0])!;
    assert.equal(shortcutBn.op, 'batchNorm');
    assert.deepEqual(projection.conv, { outChannels: 32, kernel: 1, stride: 2, pads: [0, 0, 0, 0], dilation: 1, groups: 1, bias: false });
    assert.deepEqual(projectionAdd.outputShape, [1, 32, 16, 16]);
    assert.deepEqual(layerShapes('resnet-small', 'globalAvgPool'), [[32, 1, 1]]);
  });

  test('LeNet, MLP and the hybrid-code targets have the expected flatten sizes', () => {
    const expected: Record<string, number> = {
      'lenet-sigmoid': 768,
      mlp: 784,
      'relu-net': 4096,
      'relu-cnn': 13872,
      'depthwise-net': 8192,
      cnn2_c0: 225,
      cnn2_c2: 1350,
      cnn2_c6: 2352,
      cnn3_c1: 588,
      cnn3_c5: 2700,
      cnn4_c1: 363,
    };
    for (const [name, size] of Object.entries(expected)) assert.deepEqual(layerShapes(name, 'flatten'), [[size]], name);
    for (const network of manifest.networks) assert.deepEqual(network.outputShape, [1, 10], network.name);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// ONNX

function decodeOnnx(fixture: ManifestFixture): onnx.ModelProto {
  return onnx.ModelProto.decode(fs.readFileSync(fixturePath(fixture.entry)));
}

/** float32 values of an ONNX tensor, wherever they are stored. */
function onnxTensorValues(tensor: onnx.ITensorProto, modelDir: string): Float32Array {
  const size = product((tensor.dims ?? []).map(toNumber));
  let bytes: Uint8Array;
  if (tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const entry = (key: string): string => tensor.externalData!.find((e) => e.key === key)!.value!;
    const offset = Number(entry('offset'));
    bytes = new Uint8Array(fs.readFileSync(path.join(modelDir, entry('location')))).subarray(offset, offset + Number(entry('length')));
  } else if (tensor.floatData && tensor.floatData.length > 0) {
    return Float32Array.from(tensor.floatData);
  } else {
    bytes = tensor.rawData!;
  }
  assert.equal(bytes.length, size * 4, `${tensor.name}: byte length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: size }, (_, i) => view.getFloat32(i * 4, true));
}

/** Every weight of an ONNX model by name (initializers and Constant nodes), in the engine layout ([out, in] for dense). */
function onnxWeights(fixture: ManifestFixture): Map<string, Float32Array> {
  const graph = decodeOnnx(fixture).graph!;
  const dir = path.dirname(fixturePath(fixture.entry));
  const weights = new Map<string, Float32Array>();
  for (const tensor of graph.initializer ?? []) weights.set(tensor.name!, onnxTensorValues(tensor, dir));
  for (const node of graph.node ?? []) {
    if (node.opType === 'Constant') weights.set(node.output![0], onnxTensorValues(node.attribute![0].t!, dir));
  }
  if (graph.node!.some((n) => n.opType === 'MatMul')) {
    for (const tensor of [...graph.initializer!]) {
      const dims = tensor.dims!.map(toNumber);
      if (dims.length === 2) weights.set(tensor.name!, transpose(weights.get(tensor.name!)!, dims[0], dims[1]));
    }
  }
  return weights;
}

function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}

describe('ONNX fixtures', () => {
  for (const fixture of fixturesIn('onnx')) {
    test(`${fixture.id} decodes with the expected structure`, () => {
      const model = decodeOnnx(fixture);
      const graph = model.graph!;
      const network = networkOf(fixture);
      assert.equal(toNumber(model.opsetImport![0].version), 13);
      assert.equal(graph.node!.length, fixture.nodeCount);
      const ops = graph.node!.map((n) => n.opType);
      const count = (op: string): number => ops.filter((o) => o === op).length;
      assert.equal(count('Conv'), network.layers.filter((l) => l.op === 'conv').length);
      const denseLayers = network.layers.filter((l) => l.op === 'dense').length;
      const inputDims = graph.input![0].type!.tensorType!.shape!.dim!;
      assert.deepEqual(
        inputDims.map((d) => (d.dimParam ? d.dimParam : toNumber(d.dimValue))),
        fixture.declaredInputShape,
      );
      assert.equal(graph.output![0].name, 'logits');
      switch (fixture.storage) {
        case 'raw_data':
          assert.ok(graph.initializer!.length > 0);
          for (const t of graph.initializer!) assert.equal(t.rawData!.length, 4 * product(t.dims!.map(toNumber)), t.name!);
          break;
        case 'float_data':
          for (const t of graph.initializer!) assert.equal(t.floatData!.length, product(t.dims!.map(toNumber)), t.name!);
          break;
        case 'external_data': {
          const external = graph.initializer!.filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
          assert.ok(external.length > 0 && external.length < graph.initializer!.length, 'large tensors external, small ones inline');
          const binSize = fixture.files.find((f) => f.path.endsWith('.bin'))!.bytes;
          for (const t of external) {
            const entry = Object.fromEntries(t.externalData!.map((e) => [e.key, e.value]));
            assert.equal(Number(entry.offset) % 64, 0);
            assert.ok(Number(entry.offset) + Number(entry.length) <= binSize);
          }
          break;
        }
        case 'constant_nodes':
          assert.equal(graph.initializer!.length, 0);
          assert.ok(count('Constant') > 0);
          break;
      }
      if (fixture.onnx?.denseOp === 'MatMul+Add') {
        assert.equal(count('Gemm'), 0);
        assert.equal(count('MatMul'), denseLayers);
      } else {
        assert.equal(count('Gemm'), denseLayers);
      }
    });
  }

  test('every ONNX file of a network holds the same float32 weights', () => {
    for (const fixture of fixturesIn('onnx').filter((f) => !f.id.endsWith('-onnx'))) {
      const reference = onnxWeights(manifest.fixtures.find((f) => f.id === `${fixture.network}-onnx`)!);
      const variant = onnxWeights(fixture);
      assert.deepEqual([...variant.keys()].sort(), [...reference.keys()].sort(), fixture.id);
      for (const [name, values] of reference) assert.deepEqual(variant.get(name), values, `${fixture.id} ${name}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// TF.js: weights

interface TfjsEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  quantization?: { dtype: 'uint8'; scale: number; min: number };
}
interface TfjsModelJson {
  format: string;
  modelTopology: any;
  weightsManifest: { paths: string[]; weights: TfjsEntry[] }[];
}

const readModelJson = (fixture: ManifestFixture): TfjsModelJson => JSON.parse(fs.readFileSync(fixturePath(fixture.entry), 'utf8'));
const storedBytes = (entry: TfjsEntry): number => product(entry.shape) * (entry.quantization ? 1 : 4);

/** Weights of a TF.js model by manifest name, dequantized, as float64. */
function tfjsWeights(fixture: ManifestFixture): Map<string, { entry: TfjsEntry; values: Float64Array }> {
  const model = readModelJson(fixture);
  const dir = path.dirname(fixturePath(fixture.entry));
  const weights = new Map<string, { entry: TfjsEntry; values: Float64Array }>();
  for (const group of model.weightsManifest) {
    const buffer = Buffer.concat(group.paths.map((p) => fs.readFileSync(path.join(dir, p))));
    const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    let offset = 0;
    for (const entry of group.weights) {
      const size = product(entry.shape);
      const values = new Float64Array(size);
      for (let i = 0; i < size; i++) {
        const q = entry.quantization;
        if (q) values[i] = view.getUint8(offset + i) * q.scale + q.min;
        else values[i] = entry.dtype === 'int32' ? view.getInt32(offset + 4 * i, true) : view.getFloat32(offset + 4 * i, true);
      }
      offset += storedBytes(entry);
      weights.set(entry.name, { entry, values });
    }
  }
  return weights;
}

/** TF layouts back to the engine's: HWIO → OIHW, [kh, kw, C, m] → [C·m, 1, kh, kw], Dense rows (h, w, c) → (c, h, w). */
function toEngineLayout(values: Float64Array, shape: number[], kind: 'conv' | 'depthwise' | 'dense', flattenedFrom?: number[]): Float64Array {
  const out = new Float64Array(values.length);
  if (kind === 'dense') {
    const [inF, outF] = shape;
    const [c, h, w] = flattenedFrom ?? [inF, 1, 1];
    for (let ci = 0; ci < c; ci++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) for (let o = 0; o < outF; o++) out[o * inF + (ci * h + y) * w + x] = values[((y * w + x) * c + ci) * outF + o];
    return out;
  }
  const [kh, kw, cin, cout] = shape; // cout is the depth multiplier for a depthwise kernel
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) {
          const source = values[((y * kw + x) * cin + i) * cout + o];
          if (kind === 'conv') out[((o * cin + i) * kh + y) * kw + x] = source;
          else out[((i * cout + o) * kh + y) * kw + x] = source;
        }
  return out;
}

describe('TF.js fixtures', () => {
  for (const fixture of [...fixturesIn('tfjs-layers'), ...fixturesIn('tfjs-graph')]) {
    test(`${fixture.id}: every weight group's byte total equals its shard sizes`, () => {
      const model = readModelJson(fixture);
      assert.equal(model.format, fixture.format === 'tfjs-layers' ? 'layers-model' : 'graph-model');
      const dir = path.dirname(fixturePath(fixture.entry));
      for (const group of model.weightsManifest) {
        const shardBytes = group.paths.reduce((n, p) => n + fs.statSync(path.join(dir, p)).size, 0);
        assert.equal(
          group.weights.reduce((n, e) => n + storedBytes(e), 0),
          shardBytes,
          group.paths.join(', '),
        );
      }
      const nodes = fixture.format === 'tfjs-layers' ? model.modelTopology.model_config.config.layers : model.modelTopology.node;
      assert.equal(nodes.length, fixture.nodeCount);
    });

    test(`${fixture.id}: weights equal the ONNX ones after converting the layout back`, () => {
      const network = networkOf(fixture);
      const reference = onnxWeights(manifest.fixtures.find((f) => f.id === `${fixture.network}-onnx`)!);
      const weights = tfjsWeights(fixture);
      const depthwise = (name: string): boolean => name.startsWith('depthwise_conv');
      const roles: Record<string, string> = {
        kernel: 'weight',
        depthwise_kernel: 'weight',
        bias: 'bias',
        gamma: 'weight',
        beta: 'bias',
        moving_mean: 'running_mean',
        moving_variance: 'running_var',
      };
      let compared = 0;
      for (const [name, { entry, values }] of weights) {
        if (entry.dtype === 'int32') continue;
        const [layerName, role] = name.split('/');
        const layer = network.layers.find((l) => l.name === layerName)!;
        const kind = layer.op === 'dense' ? 'dense' : depthwise(layerName) ? 'depthwise' : 'conv';
        const flattenedFrom = layer.op === 'dense' ? flattenSource(network, layer) : undefined;
        const engine = entry.shape.length > 1 ? toEngineLayout(values, entry.shape, kind, flattenedFrom) : values;
        const expected = reference.get(`${layerName}.${roles[role]}`)!;
        const tolerance = entry.quantization ? entry.quantization.scale * 1.0001 : 0;
        for (let i = 0; i < expected.length; i++) {
          assert.ok(Math.abs(engine[i] - expected[i]) <= tolerance, `${name}[${i}]: ${engine[i]} vs ${expected[i]}`);
        }
        compared++;
      }
      assert.equal(compared, reference.size, 'every ONNX weight has a TF.js counterpart');
    });
  }
});

/** The C×H×W map a dense layer's Flatten flattened (undefined when the dense input was never a map). */
function flattenSource(network: ManifestNetwork, dense: ManifestNetwork['layers'][number]): number[] | undefined {
  const flattenLayer = network.layers.find((l) => l.name === dense.inputs[0]);
  if (flattenLayer?.op !== 'flatten') return undefined;
  const source = flattenLayer.inputs[0];
  const shape = source === 'input' ? network.inputShape : network.layers.find((l) => l.name === source)!.outputShape;
  return shape.length === 4 ? shape.slice(1) : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// TF.js: a minimal NHWC interpreter (batch 1, batch dimension dropped), for the layers and ops the fixtures use.

interface Nhwc {
  /** [H, W, C] or [F]. */
  shape: number[];
  data: Float64Array;
}
type Pads = { top: number; bottom: number; left: number; right: number };

/** TensorFlow's SAME padding along one axis. */
function samePads(size: number, kernel: number, stride: number, dilation: number): [number, number] {
  const total = Math.max(0, (Math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

function zeroPad(x: Nhwc, p: Pads): Nhwc {
  const [h, w, c] = x.shape;
  const shape = [h + p.top + p.bottom, w + p.left + p.right, c];
  const data = new Float64Array(product(shape));
  for (let y = 0; y < h; y++)
    for (let i = 0; i < w; i++) for (let ch = 0; ch < c; ch++) data[((y + p.top) * shape[1] + i + p.left) * c + ch] = x.data[(y * w + i) * c + ch];
  return { shape, data };
}

/** Conv2D (kernel [kh, kw, C, O]) or depthwise (kernel [kh, kw, C, multiplier]) on an already padded input (VALID). */
function convValid(x: Nhwc, kernel: Nhwc, stride: number, dilation: number, depthwise: boolean): Nhwc {
  const [h, w, c] = x.shape;
  const [kh, kw, , ko] = kernel.shape;
  const outC = depthwise ? c * ko : ko;
  const oh = Math.floor((h - (kh - 1) * dilation - 1) / stride) + 1;
  const ow = Math.floor((w - (kw - 1) * dilation - 1) / stride) + 1;
  const data = new Float64Array(oh * ow * outC);
  for (let oy = 0; oy < oh; oy++)
    for (let ox = 0; ox < ow; ox++)
      for (let o = 0; o < outC; o++) {
        let sum = 0;
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++) {
            const base = ((oy * stride + ky * dilation) * w + ox * stride + kx * dilation) * c;
            if (depthwise) {
              const ch = Math.floor(o / ko);
              sum += x.data[base + ch] * kernel.data[((ky * kw + kx) * c + ch) * ko + (o % ko)];
            } else {
              for (let i = 0; i < c; i++) sum += x.data[base + i] * kernel.data[((ky * kw + kx) * c + i) * ko + o];
            }
          }
        data[(oy * ow + ox) * outC + o] = sum;
      }
  return { shape: [oh, ow, outC], data };
}

function conv(x: Nhwc, kernel: Nhwc, stride: number, dilation: number, padding: 'same' | 'valid' | Pads, depthwise = false): Nhwc {
  let pads: Pads = { top: 0, bottom: 0, left: 0, right: 0 };
  if (padding === 'same') {
    const [top, bottom] = samePads(x.shape[0], kernel.shape[0], stride, dilation);
    const [left, right] = samePads(x.shape[1], kernel.shape[1], stride, dilation);
    pads = { top, bottom, left, right };
  } else if (padding !== 'valid') {
    pads = padding;
  }
  return convValid(zeroPad(x, pads), kernel, stride, dilation, depthwise);
}

function matmul(x: Nhwc, kernel: Nhwc): Nhwc {
  const [inF, outF] = kernel.shape;
  const data = new Float64Array(outF);
  for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) data[o] += x.data[i] * kernel.data[i * outF + o];
  return { shape: [outF], data };
}

/** Adds a per-channel vector along the last axis. */
function addChannels(x: Nhwc, bias: Nhwc): Nhwc {
  const c = bias.data.length;
  return { shape: x.shape, data: x.data.map((v, i) => v + bias.data[i % c]) };
}

function activate(x: Nhwc, kind: string, alpha = 0.2): Nhwc {
  const f: Record<string, (v: number) => number> = {
    linear: (v) => v,
    relu: (v) => Math.max(v, 0),
    leakyrelu: (v) => (v < 0 ? alpha * v : v),
    sigmoid: (v) => 1 / (1 + Math.exp(-v)),
    tanh: Math.tanh,
  };
  const fn = f[kind.toLowerCase()];
  assert.ok(fn, `activation ${kind}`);
  return { shape: x.shape, data: x.data.map(fn) };
}

function pool(x: Nhwc, size: number, stride: number, kind: 'max' | 'avg'): Nhwc {
  const [h, w, c] = x.shape;
  const oh = Math.floor((h - size) / stride) + 1;
  const ow = Math.floor((w - size) / stride) + 1;
  const data = new Float64Array(oh * ow * c);
  for (let oy = 0; oy < oh; oy++)
    for (let ox = 0; ox < ow; ox++)
      for (let ch = 0; ch < c; ch++) {
        let acc = kind === 'max' ? -Infinity : 0;
        for (let ky = 0; ky < size; ky++)
          for (let kx = 0; kx < size; kx++) {
            const v = x.data[((oy * stride + ky) * w + ox * stride + kx) * c + ch];
            acc = kind === 'max' ? Math.max(acc, v) : acc + v;
          }
        data[(oy * ow + ox) * c + ch] = kind === 'max' ? acc : acc / (size * size);
      }
  return { shape: [oh, ow, c], data };
}

function globalAverage(x: Nhwc): Nhwc {
  const c = x.shape[2];
  const data = new Float64Array(c);
  x.data.forEach((v, i) => (data[i % c] += v / (x.shape[0] * x.shape[1])));
  return { shape: [c], data };
}

function batchNormalize(x: Nhwc, gamma: Nhwc, beta: Nhwc, mean: Nhwc, variance: Nhwc, epsilon: number): Nhwc {
  const c = gamma.data.length;
  return {
    shape: x.shape,
    data: x.data.map((v, i) => ((v - mean.data[i % c]) / Math.sqrt(variance.data[i % c] + epsilon)) * gamma.data[i % c] + beta.data[i % c]),
  };
}

const flat = (x: Nhwc): Nhwc => ({ shape: [x.data.length], data: x.data });

function weightTensors(fixture: ManifestFixture): (name: string) => Nhwc {
  const weights = tfjsWeights(fixture);
  return (name) => {
    const weight = weights.get(name);
    assert.ok(weight, `weight ${name}`);
    return { shape: weight.entry.shape, data: weight.values };
  };
}

/** Runs a TF.js layers model (Sequential or functional) as Keras would. */
function runLayersModel(fixture: ManifestFixture, input: Nhwc): Float64Array {
  const { model_config: modelConfig } = readModelJson(fixture).modelTopology;
  const weight = weightTensors(fixture);
  const outputs = new Map<string, Nhwc>();
  let previous = '';
  for (const layer of modelConfig.config.layers) {
    const config = layer.config;
    const name: string = config.name;
    const inputs: string[] = modelConfig.class_name === 'Sequential' ? [previous] : (layer.inbound_nodes[0] ?? []).map((n: unknown[]) => n[0]);
    const [x, y] = inputs.map((i) => outputs.get(i)!);
    let out: Nhwc;
    switch (layer.class_name) {
      case 'InputLayer':
        out = input;
        break;
      case 'ZeroPadding2D': {
        const [[top, bottom], [left, right]] = config.padding;
        out = zeroPad(x, { top, bottom, left, right });
        break;
      }
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const depthwise = layer.class_name === 'DepthwiseConv2D';
        out = conv(x, weight(`${name}/${depthwise ? 'depthwise_kernel' : 'kernel'}`), config.strides[0], config.dilation_rate[0], config.padding, depthwise);
        if (config.use_bias) out = addChannels(out, weight(`${name}/bias`));
        out = activate(out, config.activation);
        break;
      }
      case 'Dense':
        out = matmul(x, weight(`${name}/kernel`));
        if (config.use_bias) out = addChannels(out, weight(`${name}/bias`));
        out = activate(out, config.activation);
        break;
      case 'LeakyReLU':
        out = activate(x, 'leakyrelu', config.alpha);
        break;
      case 'Activation':
        out = activate(x, config.activation);
        break;
      case 'BatchNormalization':
        out = batchNormalize(
          x,
          ...(['gamma', 'beta', 'moving_mean', 'moving_variance'].map((r) => weight(`${name}/${r}`)) as [Nhwc, Nhwc, Nhwc, Nhwc]),
          config.epsilon,
        );
        break;
      case 'MaxPooling2D':
      case 'AveragePooling2D':
        out = pool(x, config.pool_size[0], config.strides[0], layer.class_name === 'MaxPooling2D' ? 'max' : 'avg');
        break;
      case 'GlobalAveragePooling2D':
        out = globalAverage(x);
        break;
      case 'Flatten':
        out = flat(x);
        break;
      case 'Add':
        out = { shape: x.shape, data: x.data.map((v, i) => v + y.data[i]) };
        break;
      default:
        throw new Error(`interpreter: no Keras layer ${layer.class_name}`);
    }
    outputs.set(name, out);
    previous = name;
  }
  const outputName = modelConfig.class_name === 'Sequential' ? previous : modelConfig.config.output_layers[0][0];
  return outputs.get(outputName)!.data;
}

/** Runs a TF.js graph model node by node (nodes are in topological order). */
function runGraphModel(fixture: ManifestFixture, input: Nhwc): Float64Array {
  const { node: nodes } = readModelJson(fixture).modelTopology;
  const weight = weightTensors(fixture);
  const text = (value: { s: string } | undefined): string => (value ? Buffer.from(value.s, 'base64').toString('utf8') : '');
  const ints = (value: { list: { i?: string[] } } | undefined): number[] => (value?.list.i ?? []).map(Number);
  const values = new Map<string, Nhwc>();
  for (const node of nodes) {
    const attr = node.attr ?? {};
    const [x, y, z]: Nhwc[] = (node.input ?? []).map((i: string) => values.get(i)!);
    let out: Nhwc;
    switch (node.op) {
      case 'Placeholder':
        out = input;
        break;
      case 'Const':
        out = weight(node.name);
        break;
      case 'Pad': {
        const p = Array.from(y.data);
        out = zeroPad(x, { top: p[2], bottom: p[3], left: p[4], right: p[5] });
        break;
      }
      case 'Conv2D':
      case '_FusedConv2D':
      case 'DepthwiseConv2dNative': {
        const mode = text(attr.padding);
        const explicit = ints(attr.explicit_paddings);
        const padding =
          mode === 'EXPLICIT' ? { top: explicit[2], bottom: explicit[3], left: explicit[4], right: explicit[5] } : (mode.toLowerCase() as 'same' | 'valid');
        out = conv(x, y, ints(attr.strides)[1], ints(attr.dilations)[1], padding, node.op === 'DepthwiseConv2dNative');
        if (node.op === '_FusedConv2D') out = applyFusedOps(out, z, attr);
        break;
      }
      case 'MatMul':
      case '_FusedMatMul':
        out = matmul(x, y);
        if (node.op === '_FusedMatMul') out = applyFusedOps(out, z, attr);
        break;
      case 'BiasAdd':
        out = addChannels(x, y);
        break;
      case 'Relu':
      case 'LeakyRelu':
      case 'Sigmoid':
      case 'Tanh':
        out = activate(x, node.op, attr.alpha?.f);
        break;
      case 'Reshape':
        out = flat(x);
        break;
      case 'Mean':
        out = globalAverage(x);
        break;
      case 'FusedBatchNormV3': {
        const [gamma, beta, mean, variance] = node.input.slice(1).map((i: string) => values.get(i)!);
        out = batchNormalize(x, gamma, beta, mean, variance, attr.epsilon.f);
        break;
      }
      case 'MaxPool':
      case 'AvgPool':
        out = pool(x, ints(attr.ksize)[1], ints(attr.strides)[1], node.op === 'MaxPool' ? 'max' : 'avg');
        break;
      case 'AddV2':
        out = { shape: x.shape, data: x.data.map((v, i) => v + y.data[i]) };
        break;
      case 'Identity':
        out = x;
        break;
      default:
        throw new Error(`interpreter: no graph op ${node.op}`);
    }
    values.set(node.name, out);
  }
  return values.get('Identity')!.data;

  function applyFusedOps(x: Nhwc, bias: Nhwc, attr: Record<string, any>): Nhwc {
    let out = x;
    for (const op of (attr.fused_ops?.list.s ?? []).map((s: string) => Buffer.from(s, 'base64').toString('utf8'))) {
      out = op === 'BiasAdd' ? addChannels(out, bias) : activate(out, op, attr.leakyrelu_alpha?.f);
    }
    return out;
  }
}

/** A fixed, smooth test image in NCHW (batch 1). */
function probeImage(shape: number[]): Float32Array {
  return Float32Array.from({ length: product(shape) }, (_, i) => 0.5 + 0.5 * Math.sin(0.37 * i));
}

function nchwToNhwc(values: Float32Array, [, c, h, w]: number[]): Nhwc {
  const data = new Float64Array(values.length);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[(y * w + x) * c + ch] = values[(ch * h + y) * w + x];
  return { shape: [h, w, c], data };
}

describe('every format computes the same function', () => {
  const onnxLogits = new Map<string, Float32Array>();
  before(async () => {
    for (const fixture of fixturesIn('onnx')) {
      const network = networkOf(fixture);
      const session = await ort.InferenceSession.create(fixturePath(fixture.entry));
      const result = await session.run({ input: new ort.Tensor('float32', probeImage(network.inputShape), network.inputShape) });
      onnxLogits.set(fixture.id, result.logits.data as Float32Array);
      await session.release();
    }
  });

  test('onnxruntime runs every ONNX file, and all ONNX files of a network agree', () => {
    for (const fixture of fixturesIn('onnx')) {
      const logits = onnxLogits.get(fixture.id)!;
      assert.equal(logits.length, 10);
      assert.ok(logits.every(Number.isFinite), fixture.id);
      assert.deepEqual(Array.from(logits), Array.from(onnxLogits.get(`${fixture.network}-onnx`)!), fixture.id);
    }
  });

  for (const fixture of [...fixturesIn('tfjs-layers'), ...fixturesIn('tfjs-graph')]) {
    test(`${fixture.id} matches the ONNX model under onnxruntime`, () => {
      const network = networkOf(fixture);
      const input = nchwToNhwc(probeImage(network.inputShape), network.inputShape);
      const logits = fixture.format === 'tfjs-layers' ? runLayersModel(fixture, input) : runGraphModel(fixture, input);
      const expected = onnxLogits.get(`${fixture.network}-onnx`)!;
      const scale = Math.max(...Array.from(expected, Math.abs));
      // float32 weights: rounding only. uint8 weights: each off by up to one quantization step.
      const tolerance = fixture.exactWeights ? 1e-5 + 1e-4 * scale : 0.02 * scale;
      for (let i = 0; i < expected.length; i++) {
        assert.ok(Math.abs(logits[i] - expected[i]) <= tolerance, `logit ${i}: ${logits[i]} vs ${expected[i]} (tolerance ${tolerance})`);
      }
    });
  }
});
