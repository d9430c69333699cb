// ONNX reader: third-party models (shapes, layer counts, forward passes against the ONNX test data) and
// synthetic models covering storage formats, opset differences, folding and dynamic shapes.
import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import Long from 'long';
import type { ConvAttrs, LayerGraph, LayerNode, Shape } from '../../src/engine/ir';
import { sizeOf } from '../../src/engine/ir';
import { isModelReadError } from '../../src/engine/errors';
import { toNumber } from '../../src/engine/readers/onnx/protobuf';
import {
  assertClose,
  assertReadError,
  encodeModel,
  findNode,
  graphProto,
  float32Bytes,
  int64Tensor,
  node,
  read,
  readSpec,
  removeTempDirs,
  tempDir,
  tensor,
  valueInfo,
  writeFile,
  type Storage,
} from './onnx-helpers';

const MODELS = path.resolve(__dirname, '../fixtures/third-party');

after(removeTempDirs);

function model(id: string, entry = 'model.onnx'): string {
  return path.join(MODELS, id, entry);
}

function layers(graph: LayerGraph, op: LayerNode['op']): LayerNode[] {
  return graph.nodes.filter((n) => n.op === op);
}

function outShapes(nodes: LayerNode[]): Shape[] {
  return nodes.map((n) => n.outputShapes[0]);
}

function conv(node: LayerNode): ConvAttrs {
  assert.equal(node.attrs.kind, 'conv');
  return node.attrs as ConvAttrs;
}

/** Values of a TensorProto file from the ONNX backend test data. */
function testTensor(id: string, name: string): { shape: Shape; values: Float64Array } {
  const proto = onnx.TensorProto.decode(fs.readFileSync(path.join(MODELS, id, 'test_data_set_0', name)));
  const shape = proto.dims.map(toNumber);
  const count = sizeOf(shape);
  const values = new Float64Array(count);
  if (proto.rawData.length > 0) {
    const view = new DataView(proto.rawData.buffer, proto.rawData.byteOffset, proto.rawData.byteLength);
    for (let i = 0; i < count; i++) values[i] = view.getFloat32(i * 4, true);
  } else {
    values.set(proto.floatData);
  }
  return { shape, values };
}

/** Direct NCHW cross-correlation (docs/algorithm.md §1), including groups, strides, dilations and asymmetric pads. */
function convForward(x: Float64Array, xShape: Shape, node: LayerNode): Float64Array {
  const a = conv(node);
  const w = node.weights.kernel!.load();
  const b = node.weights.bias?.load();
  const [n, cIn, h, wd] = xShape;
  const [, cOut, ho, wo] = node.outputShapes[0];
  const [kh, kw] = a.kernel;
  const perGroupIn = cIn / a.groups;
  const perGroupOut = cOut / a.groups;
  const y = new Float64Array(n * cOut * ho * wo);
  for (let s = 0; s < n; s++)
    for (let f = 0; f < cOut; f++) {
      const group = Math.floor(f / perGroupOut);
      for (let u = 0; u < ho; u++)
        for (let v = 0; v < wo; v++) {
          let sum = b ? b[f] : 0;
          for (let c = 0; c < perGroupIn; c++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const row = u * a.strides[0] + i * a.dilations[0] - a.pads[0];
                const col = v * a.strides[1] + j * a.dilations[1] - a.pads[1];
                if (row < 0 || row >= h || col < 0 || col >= wd) continue;
                const channel = group * perGroupIn + c;
                sum += w[((f * perGroupIn + c) * kh + i) * kw + j] * x[((s * cIn + channel) * h + row) * wd + col];
              }
          y[((s * cOut + f) * ho + u) * wo + v] = sum;
        }
    }
  return y;
}

/** Transposed convolution with the kernel in ONNX layout [C_in, C_out/group, kH, kW] (groups = 1 here). */
function convTransposeForward(x: Float64Array, xShape: Shape, node: LayerNode): Float64Array {
  const a = conv(node);
  const w = node.weights.kernel!.load();
  const b = node.weights.bias!.load();
  const [, cIn, h, wd] = xShape;
  const [, cOut, ho, wo] = node.outputShapes[0];
  const [kh, kw] = a.kernel;
  const y = new Float64Array(cOut * ho * wo);
  for (let f = 0; f < cOut; f++) y.fill(b[f], f * ho * wo, (f + 1) * ho * wo);
  for (let c = 0; c < cIn; c++)
    for (let r = 0; r < h; r++)
      for (let q = 0; q < wd; q++)
        for (let f = 0; f < cOut; f++)
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++) {
              const row = r * a.strides[0] + i * a.dilations[0] - a.pads[0];
              const col = q * a.strides[1] + j * a.dilations[1] - a.pads[1];
              if (row < 0 || row >= ho || col < 0 || col >= wo) continue;
              y[(f * ho + row) * wo + col] += x[(c * h + r) * wd + q] * w[((c * cOut + f) * kh + i) * kw + j];
            }
  return y;
}

/** y = x Wᵀ + b with the engine's [out, in] kernel layout. */
function denseForward(x: Float64Array, rows: number, node: LayerNode): Float64Array {
  assert.equal(node.attrs.kind, 'dense');
  const { inFeatures, outFeatures } = node.attrs as { inFeatures: number; outFeatures: number };
  const w = node.weights.kernel!.load();
  const b = node.weights.bias?.load();
  const y = new Float64Array(rows * outFeatures);
  for (let m = 0; m < rows; m++)
    for (let o = 0; o < outFeatures; o++) {
      let sum = b ? b[o] : 0;
      for (let k = 0; k < inFeatures; k++) sum += x[m * inFeatures + k] * w[o * inFeatures + k];
      y[m * outFeatures + o] = sum;
    }
  return y;
}

describe('ONNX reader: third-party models', () => {
  it('AlexNet (light): 5 conv + 3 dense with the architecture shapes', async () => {
    const g = await read(model('onnx-light-bvlc-alexnet'));
    assert.equal(g.producer, 'onnx-caffe2');
    assert.equal(g.opset, 9);
    assert.deepEqual(g.inputs, [{ name: 'data_0', shape: [1, 3, 224, 224] }]);
    assert.deepEqual(g.outputs, [{ name: 'prob_1', shape: [1, 1000] }]);
    const convs = layers(g, 'conv');
    assert.deepEqual(outShapes(convs), [
      [1, 96, 54, 54],
      [1, 256, 26, 26],
      [1, 384, 12, 12],
      [1, 384, 12, 12],
      [1, 256, 12, 12],
    ]);
    assert.deepEqual(convs[1].weights.kernel?.shape, [256, 48, 5, 5]);
    assert.equal(conv(convs[1]).groups, 2);
    assert.deepEqual(conv(convs[0]).strides, [4, 4]);
    const dense = layers(g, 'dense');
    assert.deepEqual(
      dense.map((n) => [n.inputShapes[0], n.outputShapes[0]]),
      [
        [
          [1, 9216],
          [1, 4096],
        ],
        [
          [1, 4096],
          [1, 4096],
        ],
        [
          [1, 4096],
          [1, 1000],
        ],
      ],
    );
    assert.deepEqual(dense[0].weights.kernel?.shape, [4096, 9216]);
    // ConstantOfShape placeholders fill the weights with 0.02.
    assert.ok(convs[0].weights.kernel!.load().every((v) => Math.abs(v - 0.02) < 1e-7));
    const lrn = g.nodes.filter((n) => n.sourceOp === 'LRN');
    assert.equal(lrn.length, 2);
    assert.ok(lrn.every((n) => n.status === 'unsupported' && n.note && n.outputShapes.length === 1));
    assert.equal(g.nodes.filter((n) => n.sourceOp === 'ConstantOfShape').length, 0, 'weight placeholders fold away');
  });

  it('ResNet-50 (light): 53 conv, Sum as add, inference batch norm, 1 dense', async () => {
    const g = await read(model('onnx-light-resnet50'));
    const convs = layers(g, 'conv');
    assert.equal(convs.length, 53);
    assert.deepEqual(convs[0].outputShapes[0], [1, 64, 112, 112]);
    assert.deepEqual(convs[52].outputShapes[0], [1, 2048, 7, 7]);
    const adds = layers(g, 'add');
    assert.equal(adds.length, 16);
    assert.ok(adds.every((n) => n.sourceOp === 'Sum' && n.inputs.length === 2));
    const norms = layers(g, 'batchNorm');
    assert.equal(norms.length, 53);
    assert.ok(norms.every((n) => n.attrs.kind === 'norm' && !n.attrs.trainingMode && n.weights.variance?.shape.length === 1));
    const dense = layers(g, 'dense');
    assert.equal(dense.length, 1);
    assert.deepEqual(
      [dense[0].inputShapes[0], dense[0].outputShapes[0]],
      [
        [1, 2048],
        [1, 1000],
      ],
    );
    assert.deepEqual(g.outputs[0].shape, [1, 1000]);
  });

  it('DenseNet-121 (light): 121 conv, 58 concats, classifier conv [1,1000,1,1]', async () => {
    const g = await read(model('onnx-light-densenet121'));
    const convs = layers(g, 'conv');
    assert.equal(convs.length, 121);
    assert.deepEqual(convs[0].outputShapes[0], [1, 64, 112, 112]);
    assert.deepEqual(convs[120].outputShapes[0], [1, 1000, 1, 1]);
    assert.deepEqual(convs[120].weights.bias?.shape, [1000]);
    assert.equal(layers(g, 'concat').length, 58);
    assert.deepEqual(layers(g, 'concat').at(-1)!.outputShapes[0], [1, 1024, 7, 7]);
    // The per-channel scale after each batch norm: Mul by Unsqueeze(weight), folded to a [C,1,1] operand.
    const mul = layers(g, 'mul')[0];
    assert.deepEqual(mul.weights.operand?.shape, [64, 1, 1]);
    assert.equal(g.nodes.filter((n) => n.sourceOp === 'Unsqueeze').length, 0);
  });

  it('Inception v1 (light): 57 conv, reshaped classifier weights folded into the dense layer', async () => {
    const g = await read(model('onnx-light-inception-v1'));
    assert.equal(layers(g, 'conv').length, 57);
    assert.deepEqual(layers(g, 'conv')[0].outputShapes[0], [1, 64, 112, 112]);
    const dense = layers(g, 'dense');
    assert.equal(dense.length, 1);
    assert.deepEqual(dense[0].weights.kernel?.shape, [1000, 1024]);
    assert.equal(layers(g, 'concat').length, 9);
  });

  it('SqueezeNet (light): 26 conv ending in [1,1000,13,13]', async () => {
    const g = await read(model('onnx-light-squeezenet'));
    const convs = layers(g, 'conv');
    assert.equal(convs.length, 26);
    assert.deepEqual(convs[0].outputShapes[0], [1, 64, 111, 111]);
    assert.deepEqual(convs[25].outputShapes[0], [1, 1000, 13, 13]);
    assert.deepEqual(layers(g, 'globalAvgPool')[0].outputShapes[0], [1, 1000, 1, 1]);
    assert.equal(layers(g, 'dense').length, 0);
    // Its kernels are ConstantOfShape fills (ONNX's light test models): said, since every finding describes them.
    assert.ok(convs.every((n) => n.weights.kernel?.uniform === true));
    assert.ok(
      g.warnings.includes(
        'every conv/dense kernel (26) is one repeated value (ConstantOfShape), not trained weights: the findings describe these placeholders',
      ),
    );
  });

  it('VGG-19 (light): 16 conv + 3 dense', async () => {
    const g = await read(model('onnx-light-vgg19'));
    const convs = layers(g, 'conv');
    assert.equal(convs.length, 16);
    assert.deepEqual(convs[0].outputShapes[0], [1, 64, 224, 224]);
    assert.deepEqual(convs[15].outputShapes[0], [1, 512, 14, 14]);
    const dense = layers(g, 'dense');
    assert.deepEqual(
      dense.map((n) => [n.attrs.kind === 'dense' && n.attrs.inFeatures, n.attrs.kind === 'dense' && n.attrs.outFeatures]),
      [
        [25088, 4096],
        [4096, 4096],
        [4096, 1000],
      ],
    );
  });

  it('MNIST (CNTK): Add biases fold into 2 conv + 1 dense; output [1,10]', async () => {
    const g = await read(model('ortex-mnist-cntk', 'mnist.onnx'));
    assert.equal(g.opset, 8);
    const convs = layers(g, 'conv');
    assert.deepEqual(outShapes(convs), [
      [1, 8, 28, 28],
      [1, 16, 14, 14],
    ]);
    assert.deepEqual(conv(convs[0]).pads, [2, 2, 2, 2], 'SAME_UPPER resolved');
    // Trained weights stored as initializers: no placeholder warning.
    assert.ok(convs.every((n) => !n.weights.kernel?.uniform));
    assert.ok(!g.warnings.some((w) => w.includes('ConstantOfShape')), g.warnings.join('; '));
    assert.ok(convs.every((n) => n.sourceOp === 'Conv+Add' && n.weights.bias?.shape.length === 1));
    const dense = layers(g, 'dense');
    assert.equal(dense.length, 1);
    assert.equal(dense[0].sourceOp, 'MatMul+Add');
    assert.deepEqual(dense[0].weights.kernel?.shape, [10, 256]);
    assert.deepEqual(dense[0].outputs, ['Plus214_Output_0']);
    assert.equal(layers(g, 'add').length, 0);
    assert.deepEqual(g.outputs, [{ name: 'Plus214_Output_0', shape: [1, 10] }]);
  });

  it('MNIST (CNTK): MatMul kernel is the transposed [in,out] initializer', async () => {
    const file = model('ortex-mnist-cntk', 'mnist.onnx');
    const g = await read(file);
    const m = onnx.ModelProto.decode(fs.readFileSync(file));
    const init = m.graph!.initializer!.find((t) => t.name === 'Parameter193')!;
    const raw = init.floatData!; // [16,4,4,10] = [256 in, 10 out]
    const kernel = layers(g, 'dense')[0].weights.kernel!.load();
    for (let o = 0; o < 10; o++) for (let i = 0; i < 256; i += 17) assert.equal(kernel[o * 256 + i], Math.fround(raw[i * 10 + o]));
  });

  it('Ultraface (detector): reads without crashing, slices kept as unsupported with shapes', async () => {
    const g = await read(model('ortex-ultraface-rfb320', 'Ultraface_version-RFB-320.onnx'));
    assert.equal(layers(g, 'conv').length, 52);
    assert.deepEqual(
      g.outputs.map((o) => o.shape),
      [
        [1, 4420, 2],
        [1, 4420, 4],
      ],
    );
    const slices = g.nodes.filter((n) => n.sourceOp === 'Slice');
    assert.ok(slices.length > 0 && slices.every((n) => n.status === 'unsupported' && n.outputShapes.length === 1));
    assert.equal(new Set(g.nodes.map((n) => n.id)).size, g.nodes.length, 'ids are unique');
    assert.ok(g.nodes.every((n) => n.location.format === 'onnx' && n.id === `${n.sourceOp}_${n.location.nodeIndex}`));
  });

  it('every ONNX model in the shared fixtures reads', async () => {
    const manifest: { id: string; format: string; entry: string }[] = JSON.parse(fs.readFileSync(path.join(MODELS, 'manifest.json'), 'utf8'));
    const onnxModels = manifest.filter((m) => m.format === 'onnx');
    assert.ok(onnxModels.length >= 18);
    for (const m of onnxModels) {
      const g = await read(model(m.id, m.entry));
      assert.equal(g.format, 'onnx');
      assert.ok(g.nodes.length > 0, m.id);
      assert.equal(new Set(g.nodes.map((n) => n.id)).size, g.nodes.length, `${m.id}: unique ids`);
      assert.ok(
        g.outputs.every((o) => o.shape.length > 0),
        `${m.id}: output shapes known`,
      );
      assert.ok(
        g.nodes.every((n) => n.status === 'unsupported' || n.outputShapes.length === n.outputs.length),
        m.id,
      );
    }
  });

  it('single-layer models: output shapes match the test data', async () => {
    const ids = fs.readdirSync(MODELS).filter((id) => id.startsWith('onnx-pt-') || id === 'onnx-simple-single-relu');
    assert.ok(ids.length >= 10);
    for (const id of ids) {
      const g = await read(model(id));
      const expected = testTensor(id, 'output_0.pb').shape;
      assert.deepEqual(g.outputs[0].shape, expected, id);
      assert.deepEqual(g.nodes.at(-1)!.outputShapes[0], expected, id);
      assert.ok(
        g.nodes.every((n) => n.status === 'ok'),
        id,
      );
    }
  });

  describe('forward passes from lazily loaded weights match the test data', () => {
    for (const id of ['onnx-pt-conv2d', 'onnx-pt-conv2d-depthwise-with-multiplier']) {
      it(id, async () => {
        const g = await read(model(id));
        const x = testTensor(id, 'input_0.pb');
        assertClose(convForward(x.values, x.shape, layers(g, 'conv')[0]), testTensor(id, 'output_0.pb').values, 1e-4, id);
      });
    }

    it('onnx-pt-linear (Gemm transB=1)', async () => {
      const g = await read(model('onnx-pt-linear'));
      const x = testTensor('onnx-pt-linear', 'input_0.pb');
      assertClose(denseForward(x.values, x.shape[0], layers(g, 'dense')[0]), testTensor('onnx-pt-linear', 'output_0.pb').values, 1e-4);
    });

    it('onnx-pt-convtranspose2d (kernel kept as [C_in, C_out/group, kH, kW])', async () => {
      const id = 'onnx-pt-convtranspose2d';
      const node = layers(await read(model(id)), 'convTranspose')[0];
      assert.equal(conv(node).outChannels, 4);
      assert.deepEqual(conv(node).outputPadding, [1, 1]);
      const x = testTensor(id, 'input_0.pb');
      assertClose(convTransposeForward(x.values, x.shape, node), testTensor(id, 'output_0.pb').values, 1e-4);
    });

    it('onnx-pt-batchnorm2d-eval (opset 6, is_test=1)', async () => {
      const id = 'onnx-pt-batchnorm2d-eval';
      const node = layers(await read(model(id)), 'batchNorm')[0];
      assert.ok(node.attrs.kind === 'norm' && !node.attrs.trainingMode);
      const [scale, bias, mean, variance] = (['scale', 'bias', 'mean', 'variance'] as const).map((k) => node.weights[k]!.load());
      const epsilon = node.attrs.kind === 'norm' ? node.attrs.epsilon : NaN;
      const x = testTensor(id, 'input_0.pb');
      const y = x.values.map((v, i) => {
        const c = Math.floor(i / 36) % 3;
        return ((v - mean[c]) / Math.sqrt(variance[c] + epsilon)) * scale[c] + bias[c];
      });
      assertClose(y, testTensor(id, 'output_0.pb').values, 1e-4);
    });

    it('onnx-pt-prelu-2d-multiparam (opset 6 per-channel slope)', async () => {
      const id = 'onnx-pt-prelu-2d-multiparam';
      const node = (await read(model(id))).nodes[0];
      assert.ok(node.attrs.kind === 'activation' && node.attrs.activation === 'prelu');
      assert.deepEqual(node.weights.slope?.shape, [3, 1, 1]);
      const slope = node.weights.slope!.load();
      const x = testTensor(id, 'input_0.pb');
      const y = x.values.map((v, i) => (v < 0 ? v * slope[Math.floor(i / 20) % 3] : v));
      assertClose(y, testTensor(id, 'output_0.pb').values, 1e-6);
    });
  });

  it('decodes int64 fields as Long, as it must in the webpack bundle too', async () => {
    const m = onnx.ModelProto.decode(fs.readFileSync(model('onnx-simple-single-relu')));
    assert.ok(Long.isLong(m.irVersion));
  });

  it('pooling attributes: dilations, asymmetric pads, strides', async () => {
    const node = (await read(model('onnx-pt-maxpool2d-stride-padding-dilation'))).nodes[0];
    assert.deepEqual(node.attrs, {
      kind: 'pool',
      kernel: [60, 80],
      strides: [10, 10],
      dilations: [10, 10],
      pads: [10, 20, 10, 20],
      ceilMode: false,
      countIncludePad: false,
    });
  });
});

/** X[1,2,4,4] -> Conv(W[3,2,3,3], B[3], pads 1) -> Flatten -> Gemm(W[5,48], C[5], transB) -> Y[1,5]. */
const CONV_W = Array.from({ length: 54 }, (_, i) => (i - 27) / 16);
const CONV_B = [0.5, -1.25, 2];
const GEMM_W = Array.from({ length: 240 }, (_, i) => ((i * 7) % 13) / 8 - 0.75);
const GEMM_C = [1, 2, 3, 4, 5];

function convGemmSpec(storage: Storage) {
  return {
    nodes: [
      node('Conv', ['x', 'w', 'b'], ['c'], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }, 'conv'),
      node('Flatten', ['c'], ['f'], { axis: 1 }, 'flatten'),
      node('Gemm', ['f', 'gw', 'gc'], ['y'], { transB: 1 }, 'fc'),
    ],
    inputs: [valueInfo('x', [1, 2, 4, 4])],
    outputs: [valueInfo('y', [1, 5])],
    initializers: [
      tensor('w', [3, 2, 3, 3], CONV_W, storage),
      tensor('b', [3], CONV_B, storage),
      tensor('gw', [5, 48], GEMM_W, storage),
      tensor('gc', [5], GEMM_C, storage),
    ],
  };
}

function assertConvGemmWeights(g: LayerGraph, tolerance: number): void {
  const c = findNode(g, (n) => n.op === 'conv');
  const d = findNode(g, (n) => n.op === 'dense');
  assert.deepEqual(c.outputShapes, [[1, 3, 4, 4]]);
  assert.deepEqual(d.inputShapes, [[1, 48]]);
  assertClose(c.weights.kernel!.load(), CONV_W, tolerance, 'conv kernel');
  assertClose(c.weights.bias!.load(), CONV_B, tolerance, 'conv bias');
  assertClose(d.weights.kernel!.load(), GEMM_W, tolerance, 'dense kernel');
  assertClose(d.weights.bias!.load(), GEMM_C, tolerance, 'dense bias');
}

describe('ONNX reader: weight storage', () => {
  for (const storage of ['raw', 'float_data', 'double'] as const) {
    it(`decodes ${storage} initializers`, async () => {
      const g = await readSpec(convGemmSpec(storage));
      assertConvGemmWeights(g, 1e-7);
      assert.equal(findNode(g, (n) => n.op === 'conv').weights.kernel!.storage, storage === 'double' ? 'float64' : 'float32');
    });
  }

  for (const storage of ['float16-raw', 'float16-int32'] as const) {
    it(`decodes ${storage} initializers`, async () => {
      // Multiples of 1/16 within ±2 are exact in float16.
      const g = await readSpec(convGemmSpec(storage));
      assertConvGemmWeights(g, 0);
      assert.equal(findNode(g, (n) => n.op === 'dense').weights.kernel!.storage, 'float16');
    });
  }

  it('reads raw_data at odd byte offsets (values in the protobuf are not 4-byte aligned)', async () => {
    const spec = convGemmSpec('raw');
    const bytes = encodeModel(spec);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const dir = tempDir();
    const g = await read(writeFile(dir, 'model.onnx', shifted.subarray(1)));
    assertConvGemmWeights(g, 1e-7);
  });

  it('reads external data with the model, inside the model folder', async () => {
    const dir = tempDir();
    const padding = new Uint8Array(6); // weights start at an unaligned offset
    const conv = float32Bytes(CONV_W);
    const gemm = float32Bytes(GEMM_W);
    fs.mkdirSync(path.join(dir, 'data'));
    fs.writeFileSync(path.join(dir, 'data', 'weights.bin'), Buffer.concat([padding, conv, gemm]));
    const external = (name: string, dims: number[], offset: number, length: number): onnx.ITensorProto => ({
      name,
      dims,
      dataType: 1,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: 'data/weights.bin' },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(length) },
      ],
    });
    const spec = convGemmSpec('raw');
    spec.initializers[0] = external('w', [3, 2, 3, 3], 6, conv.length);
    spec.initializers[2] = external('gw', [5, 48], 6 + conv.length, gemm.length);
    const file = writeFile(dir, 'model.onnx', encodeModel(spec));
    const g = await read(file);
    assertConvGemmWeights(g, 1e-7);

    // Read with the model: nothing is opened afterwards, so moving the data file away changes nothing.
    fs.renameSync(path.join(dir, 'data', 'weights.bin'), path.join(dir, 'data', 'moved.bin'));
    assertClose(findNode(g, (n) => n.op === 'conv').weights.kernel!.load(), CONV_W, 1e-7, 'external kernel was read with the model');
    assertClose(findNode(g, (n) => n.op === 'conv').weights.bias!.load(), CONV_B, 1e-7, 'embedded bias still loads');
  });

  it('treats Constant node tensors as weights and transposes Gemm transB=0 with alpha/beta', async () => {
    const w = [1, 2, 3, 4, 5, 6]; // [in 2, out 3]
    const g = await readSpec({
      nodes: [
        node('Constant', [], ['w'], { value: { tensor: tensor('', [2, 3], w) } }),
        node('Constant', [], ['c'], { value: { tensor: tensor('', [3], [1, 1, 1], 'float_data') } }),
        node('Gemm', ['x', 'w', 'c'], ['y'], { alpha: { float: 2 }, beta: { float: 0.5 } }),
      ],
      inputs: [valueInfo('x', [1, 2])],
      outputs: [valueInfo('y', [1, 3])],
    });
    assert.equal(g.nodes.length, 1);
    const dense = g.nodes[0];
    assert.equal(dense.id, 'Gemm_2');
    assert.deepEqual(dense.weights.kernel?.shape, [3, 2]);
    assert.deepEqual([...dense.weights.kernel!.load()], [2, 8, 4, 10, 6, 12]);
    assert.deepEqual([...dense.weights.bias!.load()], [0.5, 0.5, 0.5]);
    assert.equal(dense.weights.kernel!.name, 'w');
  });

  it('treats ir3-style graph inputs that are initializers as weights', async () => {
    const spec = convGemmSpec('raw');
    spec.inputs.push(valueInfo('w', [3, 2, 3, 3]), valueInfo('gw', [5, 48]));
    const g = await readSpec({ ...spec, irVersion: 3, opset: 8 });
    assert.deepEqual(g.inputs, [{ name: 'x', shape: [1, 2, 4, 4] }]);
    assert.deepEqual(findNode(g, (n) => n.op === 'conv').inputs, ['x']);
  });
});

describe('ONNX reader: graph building', () => {
  it('folds Shape/Gather/Unsqueeze/Concat chains that compute a Reshape target', async () => {
    const g = await readSpec({
      nodes: [
        node('Relu', ['x'], ['r'], {}, 'relu'),
        node('Shape', ['r'], ['s']),
        node('Gather', ['s', 'zero'], ['n'], { axis: 0 }),
        node('Unsqueeze', ['n', 'axes0'], ['n1']),
        node('Concat', ['n1', 'minus1'], ['target'], { axis: 0 }),
        node('Reshape', ['r', 'target'], ['y'], {}, 'flatten'),
      ],
      inputs: [valueInfo('x', [2, 3, 4, 5])],
      outputs: [valueInfo('y', [2, 60])],
      initializers: [int64Tensor('zero', [0], []), int64Tensor('axes0', [0]), int64Tensor('minus1', [-1])],
    });
    assert.deepEqual(
      g.nodes.map((n) => [n.id, n.op, n.outputShapes]),
      [
        ['relu', 'activation', [[2, 3, 4, 5]]],
        ['flatten', 'reshape', [[2, 60]]],
      ],
    );
  });

  it('applies opset rules: Clip bounds, Squeeze axes, Pad pads, BatchNorm training flags', async () => {
    const clipOld = await readSpec({
      nodes: [node('Clip', ['x'], ['y'], { min: { float: 0 }, max: { float: 6 } })],
      inputs: [valueInfo('x', [1, 4])],
      outputs: [valueInfo('y', [1, 4])],
      opset: 9,
    });
    assert.deepEqual(clipOld.nodes[0].attrs, { kind: 'activation', activation: 'relu6' });
    const clipNew = await readSpec({
      nodes: [node('Clip', ['x', 'lo', ''], ['y'])],
      inputs: [valueInfo('x', [1, 4])],
      outputs: [valueInfo('y', [1, 4])],
      initializers: [tensor('lo', [], [-1])],
      opset: 13,
    });
    assert.deepEqual(clipNew.nodes[0].attrs, { kind: 'activation', activation: 'clip', min: -1, max: undefined });

    const squeezeOld = await readSpec({
      nodes: [node('Squeeze', ['x'], ['y'], { axes: [2, 3] })],
      inputs: [valueInfo('x', [1, 8, 1, 1])],
      outputs: [valueInfo('y', [1, 8])],
      opset: 11,
    });
    const squeezeNew = await readSpec({
      nodes: [node('Squeeze', ['x', 'axes'], ['y'])],
      inputs: [valueInfo('x', [1, 8, 1, 1])],
      outputs: [valueInfo('y', [1, 8])],
      initializers: [int64Tensor('axes', [-1, -2])],
      opset: 13,
    });
    for (const g of [squeezeOld, squeezeNew]) assert.deepEqual([g.nodes[0].op, g.nodes[0].outputShapes], ['reshape', [[1, 8]]]);

    const padOld = await readSpec({
      nodes: [node('Pad', ['x'], ['y'], { pads: [0, 0, 1, 2, 0, 0, 3, 4] })],
      inputs: [valueInfo('x', [1, 2, 5, 5])],
      outputs: [valueInfo('y', [1, 2, 9, 11])],
      opset: 10,
    });
    const padNew = await readSpec({
      nodes: [node('Pad', ['x', 'pads'], ['y'], { mode: 'reflect' })],
      inputs: [valueInfo('x', [1, 2, 5, 5])],
      outputs: [valueInfo('y', [1, 2, 9, 11])],
      initializers: [int64Tensor('pads', [0, 0, 1, 2, 0, 0, 3, 4])],
      opset: 13,
    });
    assert.deepEqual(padOld.nodes[0].attrs, { kind: 'pad', pads: [1, 2, 3, 4], mode: 'constant', value: 0 });
    assert.deepEqual(padNew.nodes[0].attrs, { kind: 'pad', pads: [1, 2, 3, 4], mode: 'reflect', value: 0 });
    assert.deepEqual(padNew.nodes[0].outputShapes, [[1, 2, 9, 11]]);

    const bn = async (opset: number, attrs: Record<string, number>, outputs = ['y']) =>
      (
        await readSpec({
          nodes: [node('BatchNormalization', ['x', 's', 'b', 'm', 'v'], outputs, attrs)],
          inputs: [valueInfo('x', [1, 2, 3, 3])],
          outputs: [valueInfo('y', [1, 2, 3, 3])],
          initializers: ['s', 'b', 'm', 'v'].map((n) => tensor(n, [2], [1, 1])),
          opset,
          irVersion: 3,
        })
      ).nodes[0];
    const trainingMode = (n: LayerNode) => n.attrs.kind === 'norm' && n.attrs.trainingMode;
    assert.equal(trainingMode(await bn(6, {})), true, 'opset 6: is_test defaults to 0');
    assert.equal(trainingMode(await bn(6, { is_test: 1 })), false);
    assert.equal(trainingMode(await bn(9, {})), false);
    assert.equal(trainingMode(await bn(9, {}, ['y', 'mean', 'var', 'sm', 'sv'])), true);
    assert.equal(trainingMode(await bn(15, { training_mode: 1 }, ['y', 'mean', 'var'])), true);
  });

  it('maps activations, normalisations and reductions to IR ops with their parameters', async () => {
    const single = async (
      opType: string,
      attrs: Record<string, number | number[] | { float: number }> = {},
      extra: string[] = [],
      initializers: onnx.ITensorProto[] = [],
      opset = 13,
    ) =>
      (
        await readSpec({
          nodes: [node(opType, ['x', ...extra], ['y'], attrs)],
          inputs: [valueInfo('x', [1, 2, 3, 3])],
          outputs: [valueInfo('y', undefined)],
          initializers,
          opset,
        })
      ).nodes[0];
    assert.deepEqual((await single('LeakyRelu')).attrs, { kind: 'activation', activation: 'leakyRelu', alpha: 0.01 });
    assert.deepEqual((await single('Elu', { alpha: { float: 0.5 } })).attrs, { kind: 'activation', activation: 'elu', alpha: 0.5 });
    assert.deepEqual((await single('HardSigmoid')).attrs, { kind: 'activation', activation: 'hardSigmoid', alpha: 0.2, beta: 0.5 });
    const selu = (await single('Selu')).attrs;
    assert.ok(selu.kind === 'activation' && selu.gamma?.toFixed(4) === '1.0507' && selu.alpha?.toFixed(4) === '1.6733');
    for (const [opType, kind] of [
      ['Sigmoid', 'sigmoid'],
      ['Tanh', 'tanh'],
      ['Softplus', 'softplus'],
      ['HardSwish', 'hardSwish'],
      ['Mish', 'mish'],
      ['Gelu', 'gelu'],
    ]) {
      assert.deepEqual((await single(opType)).attrs, { kind: 'activation', activation: kind }, opType);
    }
    assert.deepEqual((await single('Softmax')).attrs, { kind: 'axis', axis: 3 }, 'opset 13 default axis -1');
    const oldSoftmax = await single('LogSoftmax', {}, [], [], 11);
    assert.deepEqual([oldSoftmax.op, oldSoftmax.attrs], ['logSoftmax', { kind: 'axis', axis: 1 }]);
    assert.match(oldSoftmax.note!, /all axes from 1/);
    const instance = await single('InstanceNormalization', { epsilon: { float: 0.001 } }, ['s', 'b'], [tensor('s', [2], [1, 2]), tensor('b', [2], [0, 0])]);
    assert.equal(instance.op, 'instanceNorm');
    assert.ok(instance.attrs.kind === 'norm' && Math.abs(instance.attrs.epsilon - 0.001) < 1e-9 && !instance.attrs.trainingMode);
    assert.deepEqual([(await single('GlobalMaxPool')).op, (await single('GlobalMaxPool')).outputShapes], ['globalMaxPool', [[1, 2, 1, 1]]]);
    const mean = await single('ReduceMean', { axes: [2, 3], keepdims: 0 }, [], [], 13);
    assert.deepEqual([mean.op, mean.outputShapes], ['globalAvgPool', [[1, 2]]]);
    const channelMean = await single('ReduceMean', { axes: [1] }, [], [], 13);
    assert.deepEqual([channelMean.op, channelMean.outputShapes], ['unsupported', [[1, 1, 3, 3]]]);
    const batched = await single('MatMul', {}, ['w'], [tensor('w', [3, 5], new Array(15).fill(1))]);
    assert.deepEqual([batched.op, batched.outputShapes], ['unsupported', [[1, 2, 3, 5]]]);
  });

  it('resolves Conv auto_pad SAME_UPPER/SAME_LOWER and infers kernel_shape from the weights', async () => {
    const convWith = async (autoPad: string) =>
      (
        await readSpec({
          nodes: [node('Conv', ['x', 'w'], ['y'], { auto_pad: autoPad, strides: [2, 2] })],
          inputs: [valueInfo('x', [1, 1, 7, 7])],
          outputs: [valueInfo('y', [1, 1, 4, 4])],
          initializers: [tensor('w', [1, 1, 4, 4], new Array(16).fill(1))],
        })
      ).nodes[0];
    assert.deepEqual(conv(await convWith('SAME_UPPER')).pads, [1, 1, 2, 2]);
    assert.deepEqual(conv(await convWith('SAME_LOWER')).pads, [2, 2, 1, 1]);
    assert.deepEqual(conv(await convWith('VALID')).kernel, [4, 4]);
    assert.deepEqual((await convWith('SAME_UPPER')).outputShapes, [[1, 1, 4, 4]]);
    assert.deepEqual((await convWith('VALID')).outputShapes, [[1, 1, 2, 2]]);
  });

  it('pools with ceil_mode and count_include_pad', async () => {
    const g = await readSpec({
      nodes: [node('AveragePool', ['x'], ['y'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1, count_include_pad: 1 })],
      inputs: [valueInfo('x', [1, 1, 6, 6])],
      outputs: [valueInfo('y', [1, 1, 4, 4])],
    });
    assert.deepEqual(g.nodes[0].outputShapes, [[1, 1, 4, 4]]);
    assert.ok(g.nodes[0].attrs.kind === 'pool' && g.nodes[0].attrs.ceilMode && g.nodes[0].attrs.countIncludePad);
  });

  it('marks unknown operators unsupported and propagates unknown shapes downstream without throwing', async () => {
    const g = await readSpec({
      nodes: [
        node('Relu', ['x'], ['a'], {}, 'first'),
        node('NonZero', ['a'], ['nz'], {}, 'mystery'),
        node('Relu', ['nz'], ['b'], {}, 'after'),
        node('Sigmoid', ['b'], ['y'], {}, 'later'),
      ],
      inputs: [valueInfo('x', [1, 4])],
      outputs: [valueInfo('y', undefined)],
    });
    const [first, mystery, after, later] = g.nodes;
    assert.equal(first.status, 'ok');
    assert.equal(mystery.status, 'unsupported');
    assert.equal(mystery.sourceOp, 'NonZero');
    assert.match(mystery.note!, /NonZero/);
    assert.deepEqual(mystery.outputShapes, []);
    for (const n of [after, later]) {
      assert.equal(n.op, 'unsupported');
      assert.equal(n.note, 'input shape unknown (after unsupported node mystery)');
    }
    assert.deepEqual(g.outputs, [{ name: 'y', shape: [] }]);
  });

  it('uses declared value_info shapes after an unsupported node when present', async () => {
    const g = await readSpec({
      nodes: [node('NonZero', ['x'], ['nz'], {}, 'mystery'), node('Relu', ['nz'], ['y'], {}, 'after')],
      inputs: [valueInfo('x', [1, 4])],
      outputs: [valueInfo('y', [2, 3])],
      valueInfo: [valueInfo('nz', [2, 3], onnx.TensorProto.DataType.INT64)],
    });
    assert.deepEqual(g.nodes[0].outputShapes, [[2, 3]]);
    assert.equal(g.nodes[1].status, 'ok');
  });

  it('walks If subgraphs without crashing and counts their nodes against maxNodes', async () => {
    const branch = (value: number) => ({
      name: 'branch',
      node: [node('Constant', [], ['k'], { value: { tensor: tensor('', [1], [value]) } }), node('Add', ['a', 'k'], ['out'])],
      output: [valueInfo('out', [1, 4])],
    });
    const spec = {
      nodes: [node('Relu', ['x'], ['a']), node('If', ['cond'], ['y'], { then_branch: { graph: branch(1) }, else_branch: { graph: branch(2) } }, 'choose')],
      inputs: [valueInfo('x', [1, 4]), valueInfo('cond', [1], onnx.TensorProto.DataType.BOOL)],
      outputs: [valueInfo('y', [1, 4])],
    };
    const g = await readSpec(spec);
    const choice = findNode(g, (n) => n.id === 'choose');
    assert.equal(choice.status, 'unsupported');
    assert.match(choice.note!, /control flow \(If\)/);
    assert.deepEqual(choice.outputShapes, [[1, 4]], 'declared output shape used');
    assert.ok(g.warnings.some((w) => /If with 2 subgraph/.test(w)));
    await assert.rejects(
      () => readSpec(spec, { maxNodes: 5 }),
      (e) => isModelReadError(e) && e.code === 'too-large',
    );
  });

  it('sorts nodes that are not in topological order and gives unique ids', async () => {
    const g = await readSpec({
      nodes: [node('Sigmoid', ['b'], ['y'], {}, 'dup'), node('Relu', ['a'], ['b'], {}, 'dup'), node('Relu', ['x'], ['a'])],
      inputs: [valueInfo('x', [1, 4])],
      outputs: [valueInfo('y', [1, 4])],
    });
    assert.deepEqual(
      g.nodes.map((n) => [n.id, n.location.format === 'onnx' && n.location.nodeIndex]),
      [
        ['Relu_2', 2],
        ['dup', 1],
        ['dup_2', 0],
      ],
    );
  });

  it('folds an Add into the conv bias only when it is per channel', async () => {
    const convAdd = async (bias: onnx.ITensorProto, opset = 13, addAttrs: Record<string, number> = {}) =>
      await readSpec({
        nodes: [node('Conv', ['x', 'w'], ['c'], {}, 'conv'), node('Add', ['c', 'bias'], ['y'], addAttrs, 'add')],
        inputs: [valueInfo('x', [1, 2, 4, 4])],
        outputs: [valueInfo('y', [1, 3, 4, 4])],
        initializers: [tensor('w', [3, 2, 1, 1], [1, 2, 3, 4, 5, 6]), bias],
        opset,
      });
    const channel = await convAdd(tensor('bias', [1, 3, 1, 1], [7, 8, 9]));
    assert.deepEqual(
      channel.nodes.map((n) => [n.id, n.sourceOp, n.outputs]),
      [['conv', 'Conv+Add', ['y']]],
    );
    assert.deepEqual([...channel.nodes[0].weights.bias!.load()], [7, 8, 9]);
    // Before opset 7, broadcast=1 axis=1 aligns a [C] operand with the channels.
    const legacy = await convAdd(tensor('bias', [3], [7, 8, 9]), 6, { broadcast: 1, axis: 1 });
    assert.deepEqual(
      legacy.nodes.map((n) => n.sourceOp),
      ['Conv+Add'],
    );
    // Under numpy broadcasting a [4] operand runs along the width: not a bias.
    const columns = await convAdd(tensor('bias', [4], [1, 2, 3, 4]));
    assert.deepEqual(
      columns.nodes.map((n) => n.op),
      ['conv', 'add'],
    );
    assert.equal(columns.nodes[0].weights.bias, undefined);
  });

  it('keeps Sub with a constant left operand unsupported but folds constant-only arithmetic', async () => {
    const g = await readSpec({
      nodes: [node('Mul', ['two', 'three'], ['six']), node('Sub', ['six', 'x'], ['d'], {}, 'sub'), node('Div', ['d', 'six'], ['y'], {}, 'div')],
      inputs: [valueInfo('x', [1, 4])],
      outputs: [valueInfo('y', [1, 4])],
      initializers: [tensor('two', [1], [2]), tensor('three', [4], [3, 3, 3, 3])],
    });
    assert.deepEqual(
      g.nodes.map((n) => [n.id, n.op]),
      [
        ['sub', 'unsupported'],
        ['div', 'div'],
      ],
    );
    assert.deepEqual([...g.nodes[1].weights.operand!.load()], [6, 6, 6, 6]);
  });

  it('defaults a dynamic batch to 1 with a warning, and uses opts.inputShape when given', async () => {
    const spec = {
      nodes: [node('Relu', ['x'], ['y'])],
      inputs: [valueInfo('x', ['batch', 3, 'h', 'w'])],
      outputs: [valueInfo('y', ['batch', 3, 'h', 'w'])],
    };
    const given = await readSpec(spec, { inputShape: [2, 3, 8, 8] });
    assert.deepEqual(given.inputs, [{ name: 'x', shape: [2, 3, 8, 8] }]);
    assert.deepEqual(given.outputs, [{ name: 'y', shape: [2, 3, 8, 8] }]);
    const withoutBatch = await readSpec(spec, { inputShape: [3, 8, 8] });
    assert.deepEqual(withoutBatch.inputs[0].shape, [1, 3, 8, 8]);

    const batchOnly = await readSpec({ ...spec, inputs: [valueInfo('x', ['N', 3, 8, 8])] });
    assert.deepEqual(batchOnly.inputs[0].shape, [1, 3, 8, 8]);
    assert.deepEqual(batchOnly.nodes[0].outputShapes, [[1, 3, 8, 8]]);
    assert.ok(batchOnly.warnings.some((w) => /"x".*batch.*using 1/.test(w)));
  });
});

describe('ONNX reader: dynamic image sizes and named input shapes', () => {
  /** A PaddleOCR-classifier-like model: x[?,3,?,?] → Conv 3x3 → GlobalAveragePool → Flatten → Gemm → y. */
  function classifierFile(metadata: Record<string, string> = {}): string {
    const bytes = onnx.ModelProto.encode({
      irVersion: 7,
      opsetImport: [{ domain: '', version: 13 }],
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      graph: graphProto({
        nodes: [
          node('Conv', ['x', 'w'], ['c'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, 'conv'),
          node('GlobalAveragePool', ['c'], ['g']),
          node('Flatten', ['g'], ['f']),
          node('Gemm', ['f', 'fw'], ['y'], { transB: 1 }, 'fc'),
        ],
        inputs: [valueInfo('x', ['batch', 3, 'height', 'width'])],
        outputs: [valueInfo('y', ['batch', 2])],
        initializers: [tensor('w', [4, 3, 3, 3], new Array(108).fill(0.1)), tensor('fw', [2, 4], new Array(8).fill(0.1))],
      }),
    }).finish();
    return writeFile(tempDir(), 'model.onnx', bytes);
  }

  it('an image input [?,3,?,?] gets 224x224 with a warning naming the assumed shape (it used to stop the model)', async () => {
    const graph = await read(classifierFile());
    assert.deepEqual(graph.inputs, [{ name: 'x', shape: [1, 3, 224, 224] }]);
    assert.ok(
      graph.warnings.includes(
        'input "x" [?,3,?,?] has a dynamic image size; assuming [1,3,224,224] (the usual image-classifier size, 224x224); pass an input shape to choose another',
      ),
      graph.warnings.join('\n'),
    );
  });

  it("the size comes from the model's metadata when it gives one", async () => {
    const graph = await read(classifierFile({ image_shape: '3,48,192' }));
    assert.deepEqual(graph.inputs[0]!.shape, [1, 3, 48, 192]);
    assert.ok(graph.warnings.some((w) => w.includes("assuming [1,3,48,192] (from the model's metadata (image_shape = 3,48,192))")));
  });

  it('named input shapes fill several dynamic inputs; an unnamed one still applies to the image input', async () => {
    const file = writeFile(
      tempDir(),
      'model.onnx',
      encodeModel({
        nodes: [node('Conv', ['x', 'w'], ['c'], {}, 'conv'), node('Relu', ['h'], ['r'], {}, 'relu')],
        inputs: [valueInfo('x', ['N', 3, 'H', 'W']), valueInfo('h', ['L', 1, 'D'])],
        outputs: [valueInfo('c', undefined), valueInfo('r', undefined)],
        initializers: [tensor('w', [4, 3, 3, 3], new Array(108).fill(0.1))],
      }),
    );
    const named = await read(file, { inputShape: { named: { x: [1, 3, 48, 192], h: [2, 1, 64] } } });
    assert.deepEqual(
      named.inputs.map((i) => [i.name, i.shape]),
      [
        ['x', [1, 3, 48, 192]],
        ['h', [2, 1, 64]],
      ],
    );
    const mixed = await read(file, { inputShape: { unnamed: [1, 3, 32, 32], named: { h: [2, 1, 64], typo: [1] } } });
    assert.deepEqual(mixed.inputs[0]!.shape, [1, 3, 32, 32]);
    assert.ok(mixed.warnings.includes('the input shape for "typo" is not used: the model\'s inputs are "x", "h"'), mixed.warnings.join('\n'));
    // Without a shape for h, its dynamic dims (not an image's) stop the model, naming it.
    await assertReadError(() => read(file), 'bad-shape', file, /input "h" dimension 2 is dynamic/);
  });
});
