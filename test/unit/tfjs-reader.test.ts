// TF.js reader: real third-party models in test/fixtures/third-party, and synthetic ones written to a temp dir.
import { files } from './files';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { convAttrs, type LayerGraph, type LayerNode, type Shape } from '../../src/engine/ir';
import { resolveReadOptions, type ReadOptions } from '../../src/engine/options';
import { readTfjs } from '../../src/engine/readers/tfjs';
import { analyseModel } from '../../src/engine/analysis/analyseModel';

const MODELS = path.resolve(__dirname, '../fixtures/third-party');
const MNIST_LAYERS = path.join(MODELS, 'tensorspace-mnist-tf-layers/model.json');
const MNIST_GRAPH = path.join(MODELS, 'tensorspace-mnist-tf-graph/model.json');
const LENET = path.join(MODELS, 'tensorspace-lenet-layers/mnist.json');
const DENSE = path.join(MODELS, 'tfjs-dense-model/model.json');
const AUTOML = path.join(MODELS, 'tfjs-automl-flowers/model.json');

const tempDirs: string[] = [];
after(() => tempDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-tfjs-'));
  tempDirs.push(dir);
  return dir;
}

function read(file: string, options: ReadOptions = {}): Promise<LayerGraph> {
  return readTfjs(files, file, resolveReadOptions(options));
}

function nodesOf(graph: LayerGraph, op: string): LayerNode[] {
  return graph.nodes.filter((n) => n.op === op);
}

function nodeById(graph: LayerGraph, id: string): LayerNode {
  const node = graph.nodes.find((n) => n.id === id);
  assert.ok(node, `no node "${id}" in ${graph.nodes.map((n) => n.id).join(', ')}`);
  return node;
}

function load(node: LayerNode, role: keyof LayerNode['weights']): Float64Array {
  const weight = node.weights[role];
  assert.ok(weight, `${node.id} has no ${role}`);
  return weight.load();
}

/** float32/int32 values of a manifest weight, decoded by hand from the shard bytes. */
function manifestFloats(modelFile: string, name: string): Float32Array {
  const model = JSON.parse(fs.readFileSync(modelFile, 'utf8'));
  for (const group of model.weightsManifest) {
    const bytes = Buffer.concat(group.paths.map((p: string) => fs.readFileSync(path.join(path.dirname(modelFile), p))));
    let offset = 0;
    for (const w of group.weights) {
      const size = 4 * w.shape.reduce((a: number, b: number) => a * b, 1);
      if (w.name === name) return new Float32Array(bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + size));
      offset += size;
    }
  }
  throw new Error(`no weight ${name}`);
}

function float32Bytes(values: ArrayLike<number>): Buffer {
  return Buffer.from(new Float32Array(Array.from(values)).buffer);
}

/** The parametric and structural nodes (no activations), with shapes, attrs and weight shapes. */
function layerSignature(graph: LayerGraph) {
  return graph.nodes
    .filter((n) => ['conv', 'dense', 'maxPool', 'flatten', 'softmax'].includes(n.op))
    .map((n) => ({
      op: n.op,
      inputShapes: n.inputShapes,
      outputShapes: n.outputShapes,
      attrs: n.attrs,
      weights: Object.fromEntries(Object.entries(n.weights).map(([role, w]) => [role, w!.shape])),
    }));
}

// ---- a tiny NCHW interpreter of the IR, to check that converted layouts compute the file's function -------------

function runIr(graph: LayerGraph, input: Float64Array): Float64Array {
  const values = new Map<string, Float64Array>([[graph.inputs[0]!.name, input]]);
  for (const node of graph.nodes) {
    const x = values.get(node.inputs[0]!)!;
    const [inShape, outShape] = [node.inputShapes[0]!, node.outputShapes[0]!];
    let y: Float64Array;
    if (node.op === 'conv' && node.attrs.kind === 'conv') y = conv2d(x, inShape, outShape, node.attrs, load(node, 'kernel'), node.weights.bias?.load());
    else if (node.op === 'maxPool' && node.attrs.kind === 'pool') y = maxPool(x, inShape, outShape, node.attrs.kernel, node.attrs.strides);
    else if (node.op === 'dense') y = dense(x, load(node, 'kernel'), node.weights.bias?.load(), outShape[1]!);
    else if (node.op === 'activation') y = x.map((v) => Math.max(v, 0));
    else if (node.op === 'softmax') y = softmax(x);
    else if (node.op === 'reshape' || node.op === 'flatten') y = x;
    else throw new Error(`runIr: ${node.op}`);
    values.set(node.outputs[0]!, y);
  }
  return values.get(graph.outputs[graph.outputs.length - 1]!.name)!;
}

function conv2d(
  x: Float64Array,
  [, cin, h, w]: Shape,
  [, cout, oh, ow]: Shape,
  a: { kernel: number[]; strides: number[]; pads: number[]; groups: number },
  k: Float64Array,
  b?: Float64Array,
): Float64Array {
  const [kh, kw] = a.kernel;
  const perGroupIn = cin! / a.groups;
  const perGroupOut = cout! / a.groups;
  const y = new Float64Array(cout! * oh! * ow!);
  for (let o = 0; o < cout!; o++)
    for (let u = 0; u < oh!; u++)
      for (let v = 0; v < ow!; v++) {
        let sum = b ? b[o]! : 0;
        for (let c = 0; c < perGroupIn; c++)
          for (let i = 0; i < kh!; i++)
            for (let j = 0; j < kw!; j++) {
              const [r, s] = [u * a.strides[0]! + i - a.pads[0]!, v * a.strides[1]! + j - a.pads[1]!];
              if (r < 0 || s < 0 || r >= h! || s >= w!) continue;
              const ci = Math.floor(o / perGroupOut) * perGroupIn + c;
              sum += k[((o * perGroupIn + c) * kh! + i) * kw! + j]! * x[(ci * h! + r) * w! + s]!;
            }
        y[(o * oh! + u) * ow! + v] = sum;
      }
  return y;
}

function maxPool(x: Float64Array, [, c, h, w]: Shape, [, , oh, ow]: Shape, [kh, kw]: number[], [sh, sw]: number[]): Float64Array {
  const y = new Float64Array(c! * oh! * ow!);
  for (let ch = 0; ch < c!; ch++)
    for (let u = 0; u < oh!; u++)
      for (let v = 0; v < ow!; v++) {
        let best = -Infinity;
        for (let i = 0; i < kh!; i++) for (let j = 0; j < kw!; j++) best = Math.max(best, x[(ch * h! + u * sh! + i) * w! + v * sw! + j]!);
        y[(ch * oh! + u) * ow! + v] = best;
      }
  return y;
}

function dense(x: Float64Array, kernelOutIn: Float64Array, b: Float64Array | undefined, out: number): Float64Array {
  const inF = x.length;
  return Float64Array.from({ length: out }, (_, o) => x.reduce((sum, v, i) => sum + v * kernelOutIn[o * inF + i]!, b ? b[o]! : 0));
}

function softmax(x: Float64Array): Float64Array {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp(v - m));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

/** TensorSpace MNIST computed as TensorFlow does: NHWC activations, HWIO kernels, (h, w, c) flatten, [in, out] dense. */
function runTensorSpaceMnistAsTf(modelFile: string, image: Float64Array): Float64Array {
  const weight = (name: string) => manifestFloats(modelFile, name);
  const convNhwc = (x: Float64Array, h: number, w: number, cin: number, k: Float32Array, b: Float32Array, cout: number) => {
    const [oh, ow] = [h - 4, w - 4];
    const y = new Float64Array(oh * ow * cout);
    for (let u = 0; u < oh; u++)
      for (let v = 0; v < ow; v++)
        for (let o = 0; o < cout; o++) {
          let sum = b[o]!;
          for (let i = 0; i < 5; i++)
            for (let j = 0; j < 5; j++) for (let c = 0; c < cin; c++) sum += x[((u + i) * w + v + j) * cin + c]! * k[((i * 5 + j) * cin + c) * cout + o]!;
          y[(u * ow + v) * cout + o] = sum;
        }
    return y;
  };
  const poolNhwc = (x: Float64Array, h: number, w: number, c: number) => {
    const y = new Float64Array((h / 2) * (w / 2) * c);
    for (let u = 0; u < h / 2; u++)
      for (let v = 0; v < w / 2; v++)
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) best = Math.max(best, x[((2 * u + i) * w + 2 * v + j) * c + ch]!);
          y[(u * (w / 2) + v) * c + ch] = best;
        }
    return y;
  };
  const denseInOut = (x: Float64Array, k: Float32Array, b: Float32Array, out: number, relu: boolean) =>
    Float64Array.from({ length: out }, (_, o) => {
      const z = x.reduce((sum, v, i) => sum + v * k[i * out + o]!, b[o]!);
      return relu ? Math.max(z, 0) : z;
    });
  let x = convNhwc(image, 28, 28, 1, weight('conv_1/kernel'), weight('conv_1/bias'), 6);
  x = poolNhwc(x, 24, 24, 6);
  x = convNhwc(x, 12, 12, 6, weight('conv_2/kernel'), weight('conv_2/bias'), 16);
  x = poolNhwc(x, 8, 8, 16); // NHWC storage order is TF's flatten order
  x = denseInOut(x, weight('dense_1/kernel'), weight('dense_1/bias'), 120, true);
  x = denseInOut(x, weight('dense_2/kernel'), weight('dense_2/bias'), 84, true);
  return softmax(denseInOut(x, weight('softmax/kernel'), weight('softmax/bias'), 10, false));
}

// ---- real models --------------------------------------------------------------------------------------------------

describe('TensorSpace MNIST layers model', () => {
  let graph: LayerGraph;
  before(async () => {
    graph = await read(MNIST_LAYERS);
  });

  it('reads the Keras functional model with NCHW shapes', async () => {
    assert.equal(graph.format, 'tfjs-layers');
    assert.deepEqual(graph.inputs, [{ name: 'reshape_input', shape: [1, 28, 28] }]);
    assert.equal(nodesOf(graph, 'conv').length, 2);
    assert.equal(nodesOf(graph, 'dense').length, 3);
    assert.deepEqual(
      nodesOf(graph, 'conv').map((n) => [n.inputShapes[0], n.outputShapes[0], n.weights.kernel!.shape]),
      [
        [
          [1, 1, 28, 28],
          [1, 6, 24, 24],
          [6, 1, 5, 5],
        ],
        [
          [1, 6, 12, 12],
          [1, 16, 8, 8],
          [16, 6, 5, 5],
        ],
      ],
    );
    assert.deepEqual(
      nodesOf(graph, 'dense').map((n) => [n.inputShapes[0], n.outputShapes[0], n.weights.kernel!.shape]),
      [
        [
          [1, 256],
          [1, 120],
          [120, 256],
        ],
        [
          [1, 120],
          [1, 84],
          [84, 120],
        ],
        [
          [1, 84],
          [1, 10],
          [10, 84],
        ],
      ],
    );
    assert.ok(
      graph.warnings.some((w) => /batch/.test(w)),
      'a null batch becomes 1 with a warning',
    );
  });

  it('makes each Keras activation a separate node after its layer', async () => {
    assert.deepEqual(
      graph.nodes.map((n) => `${n.op}:${n.id}`),
      [
        'reshape:reshape',
        'conv:conv_1',
        'maxPool:maxpool_1',
        'conv:conv_2',
        'maxPool:maxpool_2',
        'flatten:flatten',
        'dense:dense_1',
        'activation:dense_1/activation',
        'dense:dense_2',
        'activation:dense_2/activation',
        'dense:softmax',
        'softmax:softmax/activation',
      ],
    );
    assert.deepEqual(nodeById(graph, 'dense_1/activation').inputs, ['dense_1']);
  });

  it('points every node at its layer object in model.json', async () => {
    const text = fs.readFileSync(MNIST_LAYERS, 'utf8');
    const conv = nodeById(graph, 'conv_2');
    assert.equal(conv.location.format, 'json');
    if (conv.location.format !== 'json') return;
    assert.deepEqual(conv.location.jsonPath, ['modelTopology', 'model_config', 'config', 'layers', 4]);
    const object = JSON.parse(text.slice(conv.location.offset, conv.location.offset + conv.location.length));
    assert.equal(object.name, 'conv_2');
    assert.deepEqual(nodeById(graph, 'softmax/activation').location, nodeById(graph, 'softmax').location);
  });

  it('converts HWIO kernels to OIHW (checked against a manual decode of the shard)', async () => {
    const raw = manifestFloats(MNIST_LAYERS, 'conv_2/kernel'); // [5, 5, 6, 16]
    const oihw = load(nodeById(graph, 'conv_2'), 'kernel'); // [16, 6, 5, 5]
    for (const [o, i, h, w] of [
      [0, 0, 0, 0],
      [1, 0, 2, 3],
      [15, 5, 4, 4],
      [7, 3, 1, 0],
    ] as const) {
      assert.equal(oihw[((o * 6 + i) * 5 + h) * 5 + w], raw[((h * 5 + w) * 6 + i) * 16 + o]);
    }
    assert.deepEqual(Array.from(load(nodeById(graph, 'conv_2'), 'bias')), Array.from(manifestFloats(MNIST_LAYERS, 'conv_2/bias')));
  });

  it("re-orders the Dense kernel after Flatten from TF's (h, w, c) to the engine's (c, h, w) order", async () => {
    const raw = manifestFloats(MNIST_LAYERS, 'dense_1/kernel'); // [256 = 4·4·16 in (h, w, c) order, 120]
    const outIn = load(nodeById(graph, 'dense_1'), 'kernel'); // [120, 256 in (c, h, w) order]
    for (const [o, c, h, w] of [
      [0, 0, 0, 0],
      [5, 3, 1, 2],
      [119, 15, 3, 3],
      [60, 8, 0, 3],
    ] as const) {
      assert.equal(outIn[o * 256 + (c * 16 + h * 4 + w)], raw[((h * 4 + w) * 16 + c) * 120 + o]);
    }
    const plain = load(nodeById(graph, 'dense_2'), 'kernel'); // no flatten before: a plain transpose
    assert.equal(plain[5 * 120 + 7], manifestFloats(MNIST_LAYERS, 'dense_2/kernel')[7 * 84 + 5]);
  });

  it('computes the same function as TensorFlow (NHWC forward pass vs the IR forward pass)', async () => {
    const image = Float64Array.from({ length: 28 * 28 }, (_, i) => Math.sin(i * 0.37) * 0.5 + 0.5);
    const expected = runTensorSpaceMnistAsTf(MNIST_LAYERS, image);
    const actual = runIr(graph, image);
    actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-9, `class ${i}: ${v} vs ${expected[i]}`));
  });
});

describe('TensorSpace MNIST graph model', () => {
  let graph: LayerGraph;
  before(async () => {
    graph = await read(MNIST_GRAPH);
  });

  it('folds bias Adds and the Shape/StridedSlice/Pack flatten chain', async () => {
    assert.equal(graph.format, 'tfjs-graph');
    assert.deepEqual(graph.inputs, [{ name: 'MyInput', shape: [1, 1, 28, 28] }]);
    assert.equal(nodesOf(graph, 'conv').length, 2);
    assert.equal(nodesOf(graph, 'dense').length, 3);
    assert.equal(nodesOf(graph, 'unsupported').length, 0);
    assert.ok(
      nodesOf(graph, 'conv').every((n) => n.weights.bias),
      'Conv2D + Add(Const) → conv with bias',
    );
    assert.equal(nodeById(graph, 'Flatten/flatten/Reshape').op, 'flatten');
    assert.deepEqual(graph.outputs, [{ name: 'MySoftMax', shape: [1, 10] }]);
  });

  it('points nodes at their GraphDef node objects', async () => {
    const conv = nodeById(graph, 'Conv2D_1');
    if (conv.location.format !== 'json') return assert.fail('json location expected');
    assert.equal(conv.location.jsonPath[0], 'modelTopology');
    assert.equal(conv.location.jsonPath[1], 'node');
    const text = fs.readFileSync(MNIST_GRAPH, 'utf8');
    assert.equal(JSON.parse(text.slice(conv.location.offset, conv.location.offset + conv.location.length)).name, 'Conv2D_1');
  });
});

describe('TensorSpace MNIST: the layers model and the graph model give the same layers', () => {
  let layers: LayerGraph;
  before(async () => {
    layers = await read(MNIST_LAYERS);
  });
  let graph: LayerGraph;
  before(async () => {
    graph = await read(MNIST_GRAPH);
  });

  it('same conv/dense/pool/flatten/softmax ops, attributes, NCHW shapes and weight shapes', async () => {
    assert.deepEqual(layerSignature(layers), layerSignature(graph));
  });

  it('the files themselves differ in activations: the graph has a ReLU after each conv, the Keras config says linear', async () => {
    const activationsAfter = (g: LayerGraph, op: string) => g.nodes.filter((n, i) => n.op === op && g.nodes[i + 1]?.op === 'activation').length;
    assert.equal(activationsAfter(graph, 'conv'), 2);
    assert.equal(activationsAfter(layers, 'conv'), 0);
  });

  it('same weights to float precision once both read the same trained values', async () => {
    // The two TensorSpace exports come from different training runs. Give the layers model the graph model's
    // values (its shard minus the three int32 shape constants) and both readers must agree exactly.
    const dir = tempDir();
    fs.copyFileSync(MNIST_LAYERS, path.join(dir, 'model.json'));
    const graphShard = fs.readFileSync(path.join(path.dirname(MNIST_GRAPH), 'group1-shard1of1'));
    const convFloats = 5 * 5 * 1 * 6 + 6 + 5 * 5 * 6 * 16 + 16;
    fs.writeFileSync(path.join(dir, 'group1-shard1of1'), Buffer.concat([graphShard.subarray(0, 4 * convFloats), graphShard.subarray(4 * convFloats + 12)]));
    const relabelled = await read(path.join(dir, 'model.json'));
    const parametric = (g: LayerGraph) => g.nodes.filter((n) => n.op === 'conv' || n.op === 'dense');
    const [a, b] = [parametric(relabelled), parametric(graph)];
    assert.equal(a.length, b.length);
    a.forEach((node, i) => {
      assert.deepEqual(load(node, 'kernel'), load(b[i]!, 'kernel'), `${node.id} vs ${b[i]!.id} kernel`);
      assert.deepEqual(load(node, 'bias'), load(b[i]!, 'bias'), `${node.id} vs ${b[i]!.id} bias`);
    });
  });
});

describe('other real TF.js models', () => {
  it('TensorSpace LeNet (tfjs-layers 0.7.5, topology without model_config)', async () => {
    const graph = await read(LENET);
    assert.equal(graph.format, 'tfjs-layers');
    assert.deepEqual(graph.inputs[0]!.shape, [1, 1, 28, 28]);
    const pad = nodeById(graph, 'zero_padding2d_ZeroPadding2D1');
    assert.deepEqual([pad.op, pad.attrs, pad.outputShapes[0]], ['pad', { kind: 'pad', pads: [2, 2, 2, 2], mode: 'constant', value: 0 }, [1, 1, 32, 32]]);
    assert.deepEqual(
      nodesOf(graph, 'conv').map((n) => n.outputShapes[0]),
      [
        [1, 6, 28, 28],
        [1, 16, 10, 10],
      ],
    );
    assert.deepEqual(
      nodesOf(graph, 'dense').map((n) => n.weights.kernel!.shape),
      [
        [120, 400],
        [84, 120],
        [10, 84],
      ],
    );
    assert.deepEqual(nodeById(graph, 'conv2d_Conv2D1/activation').attrs, { kind: 'activation', activation: 'relu' });
    assert.equal(nodeById(graph, 'dense_Dense3/activation').op, 'softmax');
  });

  it('tfjs dense model (_FusedMatMul with BiasAdd, -1 batch)', async () => {
    const graph = await read(DENSE);
    assert.deepEqual(
      graph.nodes.map((n) => n.op),
      ['dense', 'identity'],
    );
    const fc = nodesOf(graph, 'dense')[0]!;
    assert.deepEqual([fc.inputShapes[0], fc.outputShapes[0], fc.weights.kernel!.shape, fc.weights.bias!.shape], [[1, 1], [1, 1], [1, 1], [1]]);
    assert.deepEqual(graph.outputs, [{ name: 'Identity', shape: [1, 1] }]);
    assert.deepEqual((await read(DENSE, { inputShape: [4, 1] })).inputs[0]!.shape, [4, 1], 'opts.inputShape fills the dynamic batch');
  });

  it('AutoML flowers (MnasNet-like: 35 Conv2D + 17 depthwise, folded batch norms)', async () => {
    const graph = await read(AUTOML);
    assert.deepEqual(graph.inputs, [{ name: 'image', shape: [1, 3, 224, 224] }]);
    const convs = nodesOf(graph, 'conv');
    const depthwise = convs.filter((n) => convAttrs(n).groups > 1);
    assert.equal(convs.length, 52);
    assert.equal(depthwise.length, 17);
    assert.equal(nodesOf(graph, 'dense').length, 1);
    assert.equal(nodesOf(graph, 'unsupported').length, 0);
    assert.ok(
      convs.every((n) => n.weights.bias),
      'every BN offset becomes a conv bias',
    );

    const stem = convs[0]!;
    assert.deepEqual(
      [stem.outputShapes[0], stem.weights.kernel!.shape],
      [
        [1, 16, 112, 112],
        [16, 3, 3, 3],
      ],
    );
    assert.deepEqual(convAttrs(stem).pads, [0, 0, 1, 1], "SAME with stride 2: TF's extra pixel goes bottom/right");
    assert.deepEqual(nodesOf(graph, 'globalAvgPool')[0]!.outputShapes[0], [1, 1280]);
    const fc = nodesOf(graph, 'dense')[0]!;
    assert.deepEqual(
      [fc.inputShapes[0], fc.outputShapes[0]],
      [
        [1, 1280],
        [1, 5],
      ],
    );
    assert.deepEqual(graph.outputs, [{ name: 'scores', shape: [1, 5] }]);
  });

  it('AutoML flowers: a depthwise kernel is [C, 1, kh, kw] times the folded BN scale', async () => {
    const graph = await read(AUTOML);
    const dw = nodeById(graph, 'mnas_v4_a_035_1/feature_network/lead_cell_1/op_0/depthwise_0/depthwise');
    const raw = manifestFloats(AUTOML, 'mnas_v4_a_035/lead_cell_1/op_0/depthwise_0/depthwise_kernel'); // [3, 3, 24, 1]
    const scale = manifestFloats(AUTOML, 'mnas_v4_a_035_1/feature_network/lead_cell_1/op_0/bn1_0/FusedBatchNorm/Scaled');
    const kernel = load(dw, 'kernel');
    assert.deepEqual(dw.weights.kernel!.shape, [24, 1, 3, 3]);
    for (const [c, i, j] of [
      [0, 0, 0],
      [5, 1, 2],
      [23, 2, 2],
    ] as const) {
      assert.ok(Math.abs(kernel[(c * 3 + i) * 3 + j]! - raw[(i * 3 + j) * 24 + c]! * scale[c]!) < 1e-12);
    }
    assert.deepEqual([convAttrs(dw).groups, convAttrs(dw).strides], [24, [2, 2]]);
  });
});

// ---- synthetic models ---------------------------------------------------------------------------------------------

/** Writes model.json + one float32 shard with deterministic values; returns the values written per weight. */
function writeModel(dir: string, modelTopology: object, weights: [string, number[]][], extra: object = {}): Map<string, Float32Array> {
  const values = new Map<string, Float32Array>();
  weights.forEach(([name, shape], k) => {
    const size = shape.reduce((a, b) => a * b, 1);
    values.set(
      name,
      Float32Array.from({ length: size }, (_, i) => Math.fround(Math.sin(k * 7.1 + i * 1.3) * 0.9)),
    );
  });
  const manifest = [{ paths: ['weights.bin'], weights: weights.map(([name, shape]) => ({ name, shape, dtype: 'float32' })) }];
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.concat([...values.values()].map(float32Bytes)));
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ modelTopology, weightsManifest: manifest, ...extra }, null, 1));
  return values;
}

/** A Keras 3 tensor argument. */
const kt = (layer: string) => ({ class_name: '__keras_tensor__', config: { shape: [], dtype: 'float32', keras_history: [layer, 0, 0] } });
/** A Keras 3 functional layer entry. */
function k3(className: string, name: string, config: object, inputs: string[], listArg = false) {
  const args = listArg ? [inputs.map(kt)] : inputs.map(kt);
  return { module: 'keras.layers', class_name: className, name, config: { name, ...config }, inbound_nodes: inputs.length ? [{ args, kwargs: {} }] : [] };
}

describe('synthetic Keras 3 functional model', () => {
  const dir = tempDir();
  const layers = [
    k3('InputLayer', 'img', { batch_shape: [null, 8, 8, 3] }, []),
    k3('Conv2D', 'c1', { filters: 4, kernel_size: [3, 3], strides: [2, 2], padding: 'same', activation: 'relu', use_bias: true }, ['img']),
    k3('DepthwiseConv2D', 'dw', { kernel_size: 3, depth_multiplier: 2, padding: 'same', use_bias: false, activation: 'linear' }, ['c1']),
    k3('BatchNormalization', 'bn', { axis: -1, epsilon: 0.001, center: true, scale: false }, ['dw']),
    k3('ReLU', 'r6', { max_value: 6 }, ['bn']),
    k3('SeparableConv2D', 'sep', { filters: 5, kernel_size: [3, 3], padding: 'valid', activation: 'elu', use_bias: true }, ['r6']),
    k3('Conv2D', 'c2', { filters: 5, kernel_size: 3, padding: 'valid', use_bias: false }, ['r6']),
    k3('Add', 'add', {}, ['sep', 'c2'], true),
    k3('Concatenate', 'cat', { axis: -1 }, ['add', 'c2'], true),
    k3('LeakyReLU', 'lrelu', { negative_slope: 0.1 }, ['cat']),
    k3('PReLU', 'prelu', { shared_axes: [1, 2] }, ['lrelu']),
    k3('MaxPooling2D', 'pool', { pool_size: [2, 2], strides: null, padding: 'same' }, ['prelu']),
    k3('Lambda', 'lam', { function: 'opaque' }, ['pool']),
    k3('Flatten', 'flat', {}, ['lam']),
    k3('Dropout', 'drop', { rate: 0.5 }, ['flat']),
    k3('Dense', 'd1', { units: 3, activation: 'softmax' }, ['drop']),
  ];
  const topology = { class_name: 'Functional', config: { name: 'f', layers, input_layers: ['img', 0, 0], output_layers: ['d1', 0, 0] } };
  const values = writeModel(
    dir,
    { keras_version: '3.1.0', model_config: topology },
    [
      ['c1/kernel', [3, 3, 3, 4]],
      ['c1/bias', [4]],
      ['dw/depthwise_kernel', [3, 3, 4, 2]],
      ['bn/beta', [8]],
      ['bn/moving_mean', [8]],
      ['bn/moving_variance', [8]],
      ['sep/depthwise_kernel', [3, 3, 8, 1]],
      ['sep/pointwise_kernel', [1, 1, 8, 5]],
      ['sep/bias', [5]],
      ['c2/kernel', [3, 3, 8, 5]],
      ['prelu/alpha', [1, 1, 10]],
      ['d1/kernel', [10, 3]],
      ['d1/bias', [3]],
    ],
    { format: 'layers-model' },
  );
  let graph: LayerGraph;
  before(async () => {
    graph = await read(path.join(dir, 'model.json'));
  });

  it('reads args-style inbound nodes in topological order', async () => {
    assert.deepEqual(
      graph.nodes.map((n) => n.id),
      [
        'c1',
        'c1/activation',
        'dw',
        'bn',
        'r6',
        'sep/depthwise',
        'sep/pointwise',
        'sep/activation',
        'c2',
        'add',
        'cat',
        'lrelu',
        'prelu',
        'pool',
        'lam',
        'flat',
        'drop',
        'd1',
        'd1/activation',
      ],
    );
    assert.deepEqual(nodeById(graph, 'add').inputs, ['sep/activation', 'c2']);
    assert.deepEqual(graph.outputs, [{ name: 'd1/activation', shape: [1, 3] }]);
  });

  it("resolves 'same' padding with the extra pixel bottom/right, and NCHW shapes", async () => {
    const c1 = nodeById(graph, 'c1');
    assert.deepEqual(
      [c1.outputShapes[0], convAttrs(c1).pads],
      [
        [1, 4, 4, 4],
        [0, 0, 1, 1],
      ],
    );
    assert.deepEqual(convAttrs(nodeById(graph, 'dw')).pads, [1, 1, 1, 1]);
    assert.deepEqual(nodeById(graph, 'sep/pointwise').outputShapes[0], [1, 5, 2, 2]);
    assert.deepEqual(nodeById(graph, 'cat').outputShapes[0], [1, 10, 2, 2]);
    assert.deepEqual(nodeById(graph, 'cat').attrs, { kind: 'axis', axis: 1 });
    assert.deepEqual(nodeById(graph, 'pool').outputShapes[0], [1, 10, 1, 1]);
  });

  it('maps depthwise [kh, kw, C, mult] to OIHW with output channel c·mult + m', async () => {
    const dw = nodeById(graph, 'dw');
    assert.deepEqual([convAttrs(dw).groups, convAttrs(dw).outChannels], [4, 8]);
    const raw = values.get('dw/depthwise_kernel')!;
    const oihw = load(dw, 'kernel');
    for (const [c, m, i, j] of [
      [0, 0, 0, 0],
      [1, 1, 2, 0],
      [3, 0, 1, 2],
      [3, 1, 2, 2],
    ] as const) {
      assert.equal(oihw[((c * 2 + m) * 3 + i) * 3 + j], raw[((i * 3 + j) * 4 + c) * 2 + m]);
    }
  });

  it('splits SeparableConv2D into depthwise + pointwise, bias on the pointwise', async () => {
    const [depthwise, pointwise] = [nodeById(graph, 'sep/depthwise'), nodeById(graph, 'sep/pointwise')];
    assert.deepEqual([depthwise.weights.kernel!.shape, depthwise.weights.bias], [[8, 1, 3, 3], undefined]);
    assert.deepEqual([pointwise.weights.kernel!.shape, pointwise.weights.bias!.shape], [[5, 8, 1, 1], [5]]);
    assert.deepEqual(nodeById(graph, 'sep/activation').attrs, { kind: 'activation', activation: 'elu', alpha: 1 });
  });

  it('reads BN, ReLU(max_value), LeakyReLU, PReLU parameters', async () => {
    const bn = nodeById(graph, 'bn');
    assert.deepEqual(bn.attrs, { kind: 'norm', epsilon: 0.001, trainingMode: false });
    assert.deepEqual(Array.from(load(bn, 'scale')), new Array(8).fill(1), 'scale=False → implicit ones');
    assert.deepEqual(load(bn, 'mean'), Float64Array.from(values.get('bn/moving_mean')!));
    assert.deepEqual(nodeById(graph, 'r6').attrs, { kind: 'activation', activation: 'relu6', min: 0, max: 6 });
    assert.deepEqual(nodeById(graph, 'lrelu').attrs, { kind: 'activation', activation: 'leakyRelu', alpha: 0.1 });
    assert.deepEqual(nodeById(graph, 'prelu').weights.slope!.shape, [10, 1, 1]);
  });

  it('keeps an unknown layer as an unsupported node with a note', async () => {
    const lam = nodeById(graph, 'lam');
    assert.deepEqual([lam.op, lam.status, lam.outputShapes[0]], ['unsupported', 'unsupported', [1, 10, 1, 1]]);
    assert.match(lam.note ?? '', /Lambda/);
    assert.ok(graph.warnings.some((w) => w.includes('Lambda')));
  });
});

describe('synthetic Keras model with an unknown layer class that changes the channel count', () => {
  const dir = tempDir();
  const layers = [
    k3('InputLayer', 'img', { batch_shape: [null, 8, 8, 3] }, []),
    k3('Conv2D', 'c1', { filters: 4, kernel_size: 3, padding: 'same', activation: 'relu' }, ['img']),
    // A custom layer with weights of its own, mixing 4 channels into 6: the reader cannot know its output shape.
    k3('ChannelMixer', 'mix', { units: 6 }, ['c1']),
    k3('Conv2D', 'c2', { filters: 5, kernel_size: 3, padding: 'valid', activation: 'relu' }, ['mix']),
    k3('BatchNormalization', 'bn', { axis: -1 }, ['c2']),
    k3('Flatten', 'flat', {}, ['bn']),
    k3('Dense', 'd1', { units: 3, activation: 'softmax' }, ['flat']),
  ];
  const topology = { class_name: 'Functional', config: { name: 'f', layers, input_layers: ['img', 0, 0], output_layers: ['d1', 0, 0] } };
  writeModel(
    dir,
    { keras_version: '3.1.0', model_config: topology },
    [
      ['c1/kernel', [3, 3, 3, 4]],
      ['c1/bias', [4]],
      ['mix/kernel', [4, 6]],
      ['mix/bias', [6]],
      ['c2/kernel', [3, 3, 6, 5]],
      ['c2/bias', [5]],
      ['bn/gamma', [5]],
      ['bn/beta', [5]],
      ['bn/moving_mean', [5]],
      ['bn/moving_variance', [5]],
      ['d1/kernel', [180, 3]],
      ['d1/bias', [3]],
    ],
    { format: 'layers-model' },
  );
  let graph: LayerGraph;
  before(async () => {
    graph = await read(path.join(dir, 'model.json'));
  });

  it('reports the unknown class as an unsupported layer, and the next conv takes its input channels from its own kernel', async () => {
    assert.deepEqual(
      graph.nodes.map((n) => `${n.op}:${n.id}:${n.status}`),
      [
        'conv:c1:ok',
        'activation:c1/activation:ok',
        'unsupported:mix:unsupported',
        'conv:c2:ok',
        'activation:c2/activation:ok',
        'batchNorm:bn:ok',
        'flatten:flat:ok',
        'dense:d1:ok',
        'softmax:d1/activation:ok',
      ],
    );
    assert.match(nodeById(graph, 'mix').note ?? '', /Keras layer "ChannelMixer" is not supported/);
    const c2 = nodeById(graph, 'c2');
    assert.deepEqual(
      [c2.inputShapes[0], c2.outputShapes[0], c2.weights.kernel!.shape],
      [
        [1, 6, 8, 8],
        [1, 5, 6, 6],
        [5, 6, 3, 3],
      ],
    );
    assert.ok(
      graph.warnings.some((w) => /c2: .*guessed.*6 input channels/.test(w)),
      graph.warnings.join('\n'),
    );
  });

  it("every later layer gets its own weights (the unknown layer's are left unused)", async () => {
    assert.equal(nodeById(graph, 'c2').weights.bias!.name, 'c2/bias');
    assert.equal(nodeById(graph, 'bn').weights.scale!.name, 'bn/gamma');
    assert.deepEqual(nodeById(graph, 'd1').weights.kernel!.shape, [3, 180]);
  });

  it('the analysis reports the unknown layer as not analysed (LL005) and analyses the others', async () => {
    const report = analyseModel(graph, { fixes: false });
    const byLayer = new Map(report.layers.map((l) => [l.nodeId, l]));
    assert.equal(byLayer.get('mix')?.ruleId, 'LL005');
    for (const layer of ['c1', 'c2', 'd1']) assert.notEqual(byLayer.get(layer)?.status, 'not-analysed', layer);
  });
});

describe('synthetic Keras model: a mismatch after an unknown layer that no kernel can resolve', () => {
  const dir = tempDir();
  const layers = [
    k3('InputLayer', 'img', { batch_shape: [null, 8, 8, 3] }, []),
    k3('Conv2D', 'c1', { filters: 4, kernel_size: 3, padding: 'same' }, ['img']),
    k3('Conv2D', 'c2', { filters: 6, kernel_size: 1, padding: 'same' }, ['img']),
    k3('ChannelMixer', 'mix', {}, ['c1']),
    // The unknown layer outputs 6 channels; the reader guessed 4, so the Add cannot be checked.
    k3('Add', 'add', {}, ['mix', 'c2'], true),
    k3('GlobalAveragePooling2D', 'gap', {}, ['add']),
    k3('Dense', 'd1', { units: 2 }, ['gap']),
  ];
  const topology = { class_name: 'Functional', config: { name: 'f', layers, input_layers: ['img', 0, 0], output_layers: ['d1', 0, 0] } };
  writeModel(
    dir,
    { keras_version: '3.1.0', model_config: topology },
    [
      ['c1/kernel', [3, 3, 3, 4]],
      ['c1/bias', [4]],
      ['c2/kernel', [1, 1, 3, 6]],
      ['c2/bias', [6]],
      ['d1/kernel', [6, 2]],
      ['d1/bias', [2]],
    ],
    { format: 'layers-model' },
  );

  it('becomes an unsupported node saying why, instead of failing the model', async () => {
    const graph = await read(path.join(dir, 'model.json'));
    const add = nodeById(graph, 'add');
    assert.equal(add.status, 'unsupported');
    assert.match(add.note ?? '', /cannot be broadcast.*guessed after an unsupported layer/);
    assert.deepEqual(nodeById(graph, 'd1').weights.kernel!.shape, [2, 6]);
  });
});

describe('synthetic Keras 2 Sequential model (old list config)', () => {
  const dir = tempDir();
  const layer = (class_name: string, config: object) => ({ class_name, config });
  writeModel(
    dir,
    {
      keras_version: '2.0.8',
      model_config: {
        class_name: 'Sequential',
        config: [
          layer('ZeroPadding2D', {
            name: 'zp',
            padding: [
              [1, 0],
              [0, 1],
            ],
            batch_input_shape: [null, 6, 6, 2],
          }),
          layer('AveragePooling2D', { name: 'avg', pool_size: [2, 2], strides: [1, 1], padding: 'valid' }),
          layer('Permute', { name: 'to_chw', dims: [3, 1, 2] }),
          layer('Permute', { name: 'to_hwc', dims: [2, 3, 1] }),
          layer('GlobalAveragePooling2D', { name: 'gap' }),
          layer('Reshape', { name: 'rs', target_shape: [2, 1] }),
          layer('Flatten', { name: 'fl' }),
          layer('Activation', { name: 'act', activation: 'tanh' }),
          layer('ELU', { name: 'elu', alpha: 0.5 }),
          layer('Dense', { name: 'out', units: 2, activation: 'exponential' }),
          layer('Softmax', { name: 'sm' }),
        ],
      },
    },
    [
      ['out/kernel', [2, 2]],
      ['out/bias', [2]],
    ],
  );
  let graph: LayerGraph;
  before(async () => {
    graph = await read(path.join(dir, 'model.json'));
  });

  it('chains the layers from a synthesized input', async () => {
    assert.deepEqual(graph.inputs, [{ name: 'zp_input', shape: [1, 2, 6, 6] }]);
    assert.deepEqual(
      graph.nodes.map((n) => `${n.op}:${n.outputShapes[0]!.join('x')}`),
      [
        'pad:1x2x7x7',
        'avgPool:1x2x6x6',
        'transpose:1x6x2x6',
        'transpose:1x2x6x6',
        'globalAvgPool:1x2',
        'reshape:1x2x1',
        'flatten:1x2',
        'activation:1x2',
        'activation:1x2',
        'dense:1x2',
        'unsupported:1x2',
        'softmax:1x2',
      ],
    );
    assert.deepEqual(nodeById(graph, 'zp').attrs, { kind: 'pad', pads: [1, 0, 0, 1], mode: 'constant', value: 0 });
    assert.deepEqual(nodeById(graph, 'to_chw').attrs, { kind: 'transpose', perm: [0, 3, 1, 2] });
    assert.deepEqual(nodeById(graph, 'avg').attrs, {
      kind: 'pool',
      kernel: [2, 2],
      strides: [1, 1],
      dilations: [1, 1],
      pads: [0, 0, 0, 0],
      ceilMode: false,
      countIncludePad: false,
    });
    assert.match(nodeById(graph, 'out/activation').note ?? '', /exponential/);
  });
});

describe('synthetic channels_first model', () => {
  const dir = tempDir();
  const layer = (class_name: string, config: object) => ({ class_name, config });
  const values = writeModel(
    dir,
    {
      model_config: {
        class_name: 'Sequential',
        config: {
          name: 'cf',
          layers: [
            layer('Conv2D', { name: 'conv', filters: 3, kernel_size: 2, data_format: 'channels_first', batch_input_shape: [null, 2, 4, 5] }),
            layer('MaxPooling2D', { name: 'pool', pool_size: 1, data_format: 'channels_first' }),
            layer('Flatten', { name: 'flat', data_format: 'channels_first' }),
            layer('Dense', { name: 'fc', units: 2 }),
          ],
        },
      },
    },
    [
      ['conv/kernel', [2, 2, 2, 3]],
      ['conv/bias', [3]],
      ['fc/kernel', [36, 2]],
      ['fc/bias', [2]],
    ],
  );
  let graph: LayerGraph;
  before(async () => {
    graph = await read(path.join(dir, 'model.json'));
  });

  it('keeps NCHW shapes as they are and needs no flatten re-ordering', async () => {
    assert.deepEqual(graph.inputs[0]!.shape, [1, 2, 4, 5]);
    assert.deepEqual(nodeById(graph, 'conv').outputShapes[0], [1, 3, 3, 4]);
    const fc = nodeById(graph, 'fc');
    assert.equal(fc.note, undefined);
    assert.equal(load(fc, 'kernel')[1 * 36 + 7], values.get('fc/kernel')![7 * 2 + 1]);
  });
});

describe('synthetic model with a nested model as a layer (transfer learning)', () => {
  const dir = tempDir();
  const base = {
    class_name: 'Functional',
    name: 'base',
    config: {
      name: 'base',
      layers: [
        { class_name: 'InputLayer', name: 'base_in', config: { name: 'base_in', batch_input_shape: [null, 5, 5, 3] }, inbound_nodes: [] },
        {
          class_name: 'Conv2D',
          name: 'conv',
          config: { name: 'conv', filters: 4, kernel_size: [3, 3], activation: 'relu' },
          inbound_nodes: [[['base_in', 0, 0, {}]]],
        },
      ],
      input_layers: [['base_in', 0, 0]],
      output_layers: [['conv', 0, 0]],
    },
  };
  writeModel(
    dir,
    {
      keras_version: '2.4.0',
      model_config: {
        class_name: 'Sequential',
        config: {
          name: 'outer',
          layers: [
            { class_name: 'InputLayer', config: { name: 'image', batch_input_shape: [null, 5, 5, 3] } },
            base,
            { class_name: 'GlobalAveragePooling2D', config: { name: 'gap' } },
            { class_name: 'Dense', config: { name: 'head', units: 2 } },
          ],
        },
      },
    },
    [
      ['base/conv/kernel', [3, 3, 3, 4]],
      ['base/conv/bias', [4]],
      ['head/kernel', [4, 2]],
      ['head/bias', [2]],
    ],
  );
  let graph: LayerGraph;
  before(async () => {
    graph = await read(path.join(dir, 'model.json'));
  });

  it('expands the nested model in place, with scoped ids and scoped weight names', async () => {
    assert.deepEqual(
      graph.nodes.map((n) => `${n.op}:${n.id}`),
      ['conv:base/conv', 'activation:base/conv/activation', 'globalAvgPool:gap', 'dense:head'],
    );
    assert.deepEqual(nodeById(graph, 'base/conv').inputs, ['image']);
    assert.deepEqual(nodeById(graph, 'base/conv').outputShapes[0], [1, 4, 3, 3]);
    assert.equal(nodeById(graph, 'base/conv').weights.kernel!.name, 'base/conv/kernel');
  });
});

describe('synthetic graph model', () => {
  const dir = tempDir();
  const s = (text: string) => ({ s: Buffer.from(text).toString('base64') });
  const ints = (...i: number[]) => ({ list: { i: i.map(String) } });
  const node = (name: string, op: string, input: string[], attr: object = {}) => ({ name, op, input, attr });
  const nodes = [
    node('x', 'Placeholder', [], { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '6' }, { size: '6' }, { size: '2' }] } } }),
    node('dw_filter', 'Const', [], { dtype: { type: 'DT_FLOAT' } }),
    node('dw', 'DepthwiseConv2dNative', ['x:0', 'dw_filter'], {
      strides: ints(1, 2, 2, 1),
      dilations: ints(1, 1, 1, 1),
      padding: s('SAME'),
      data_format: s('NHWC'),
    }),
    node('scale', 'Const', []),
    node('mul', 'Mul', ['scale', 'dw']),
    node('offset', 'Const', []),
    node('bn', 'AddV2', ['mul', 'offset']),
    node('r6', 'Relu6', ['bn']),
    node('pw_filter', 'Const', []),
    node('pw_bias', 'Const', []),
    node('pw', '_FusedConv2D', ['r6', 'pw_filter', 'pw_bias'], {
      strides: ints(1, 1, 1, 1),
      padding: s('EXPLICIT'),
      explicit_paddings: ints(0, 0, 1, 0, 0, 1, 0, 0),
      num_args: { i: '1' },
      fused_ops: { list: { s: [s('BiasAdd').s, s('Relu').s] } },
    }),
    node('axes', 'Const', [], { value: { tensor: { dtype: 'DT_INT32', tensorShape: { dim: [{ size: '2' }] }, intVal: [1, 2] } } }),
    node('mean', 'Mean', ['pw', 'axes'], { keep_dims: { b: false } }),
    node('fc_w', 'Const', []),
    node('fc', 'MatMul', ['mean', 'fc_w'], { transpose_b: { b: true } }),
    node('fc_b', 'Const', []),
    node('fcb', 'BiasAdd', ['fc', 'fc_b']),
    node('sm', 'Softmax', ['fcb', '^x']),
    node('out', 'Identity', ['sm:0']),
  ];
  const values = writeModel(
    dir,
    { node: nodes, versions: { producer: 1 } },
    [
      ['dw_filter', [3, 3, 2, 2]],
      ['scale', [4]],
      ['offset', [4]],
      ['pw_filter', [1, 1, 4, 3]],
      ['pw_bias', [3]],
      ['fc_w', [5, 3]],
      ['fc_b', [5]],
    ],
    { format: 'graph-model' },
  );
  let graph: LayerGraph;
  before(async () => {
    graph = await read(path.join(dir, 'model.json'));
  });

  it('produces canonical nodes: folded scale and bias, fused ops split off', async () => {
    assert.deepEqual(
      graph.nodes.map((n) => `${n.op}:${n.id}`),
      ['conv:dw', 'activation:r6', 'conv:pw', 'activation:pw/activation', 'globalAvgPool:mean', 'dense:fc', 'softmax:sm', 'identity:out'],
    );
    assert.deepEqual(graph.outputs, [{ name: 'out', shape: [1, 5] }]);
  });

  it('folds Mul(scale) into the depthwise kernel and Add(offset) into its bias', async () => {
    const dw = nodeById(graph, 'dw');
    assert.deepEqual(dw.attrs, { kind: 'conv', kernel: [3, 3], strides: [2, 2], dilations: [1, 1], pads: [0, 0, 1, 1], groups: 2, outChannels: 4 });
    const [raw, scale] = [values.get('dw_filter')!, values.get('scale')!];
    const kernel = load(dw, 'kernel');
    for (const [c, m, i, j] of [
      [0, 0, 0, 0],
      [0, 1, 1, 2],
      [1, 0, 2, 1],
      [1, 1, 2, 2],
    ] as const) {
      const o = c * 2 + m;
      assert.equal(kernel[(o * 3 + i) * 3 + j], raw[((i * 3 + j) * 2 + c) * 2 + m]! * scale[o]!);
    }
    assert.deepEqual(load(dw, 'bias'), Float64Array.from(values.get('offset')!));
    assert.match(dw.note ?? '', /scaled by "mul".*bias from "bn"/);
  });

  it('reads EXPLICIT padding, fused BiasAdd/Relu, Mean as global pooling, MatMul transpose_b', async () => {
    const pw = nodeById(graph, 'pw');
    assert.deepEqual(
      [convAttrs(pw).pads, pw.outputShapes[0]],
      [
        [1, 0, 0, 1],
        [1, 3, 4, 4],
      ],
    );
    assert.deepEqual(load(pw, 'bias'), Float64Array.from(values.get('pw_bias')!));
    assert.deepEqual(nodeById(graph, 'pw/activation').attrs, { kind: 'activation', activation: 'relu' });
    assert.deepEqual(nodeById(graph, 'mean').outputShapes[0], [1, 3]);
    const fc = nodeById(graph, 'fc');
    assert.deepEqual(load(fc, 'kernel'), Float64Array.from(values.get('fc_w')!), 'transpose_b: stored [out, in] already');
    assert.deepEqual(load(fc, 'bias'), Float64Array.from(values.get('fc_b')!));
  });
});

describe('weights manifest: quantization, float16, several groups and shards', () => {
  const dir = tempDir();
  const uint8 = Buffer.from(Array.from({ length: 12 }, (_, i) => i * 20)); // d1/kernel [4, 3]
  const half = Buffer.from(new Uint16Array([0x3e00, 0xc080, 0x7bff]).buffer); // 1.5, -2.25, 65504
  const group0 = Buffer.concat([uint8, half]); // 18 bytes, cut across two shards inside d1/kernel
  const uint16Values = [0, 1000, 2000, 3000, 65535, 42];
  const group1 = Buffer.concat([Buffer.from(new Uint16Array(uint16Values).buffer), Buffer.from(new Uint16Array([0x3c00, 0xbc00]).buffer)]);
  fs.writeFileSync(path.join(dir, 'g0-a.bin'), group0.subarray(0, 7));
  fs.writeFileSync(path.join(dir, 'g0-b.bin'), group0.subarray(7));
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'g1.bin'), group1);
  const model = {
    format: 'layers-model',
    modelTopology: {
      keras_version: '2.2.4',
      model_config: {
        class_name: 'Sequential',
        config: {
          name: 's',
          layers: [
            { class_name: 'Dense', config: { name: 'd1', units: 3, use_bias: true, batch_input_shape: [null, 4] } },
            { class_name: 'Dense', config: { name: 'd2', units: 2, use_bias: true } },
          ],
        },
      },
    },
    weightsManifest: [
      {
        paths: ['g0-a.bin', './g0-b.bin'],
        weights: [
          { name: 'd1/kernel', shape: [4, 3], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
          { name: 'd1/bias', shape: [3], dtype: 'float16' },
        ],
      },
      {
        paths: ['sub/g1.bin'],
        weights: [
          { name: 'd2/kernel', shape: [3, 2], dtype: 'float32', quantization: { dtype: 'uint16', scale: 0.001, min: -2 } },
          { name: 'd2/bias', shape: [2], dtype: 'float32', quantization: { dtype: 'float16' } },
        ],
      },
    ],
  };
  const file = path.join(dir, 'model.json');
  fs.writeFileSync(file, JSON.stringify(model));
  let graph: LayerGraph;
  before(async () => {
    graph = await read(file);
  });

  it('dequantizes uint8 across a shard boundary and transposes to [out, in]', async () => {
    const d1 = nodeById(graph, 'd1');
    assert.equal(d1.weights.kernel!.storage, 'uint8-quantized');
    const kernel = load(d1, 'kernel');
    for (let o = 0; o < 3; o++) for (let i = 0; i < 4; i++) assert.equal(kernel[o * 4 + i], uint8[i * 3 + o]! * 0.5 - 1);
  });

  it('decodes float16 weights and float16 quantization', async () => {
    assert.deepEqual(Array.from(load(nodeById(graph, 'd1'), 'bias')), [1.5, -2.25, 65504]);
    assert.deepEqual(Array.from(load(nodeById(graph, 'd2'), 'bias')), [1, -1]);
    assert.equal(nodeById(graph, 'd2').weights.bias!.storage, 'float16');
  });

  it('dequantizes uint16 from a second group in a sub-folder', async () => {
    const kernel = load(nodeById(graph, 'd2'), 'kernel'); // stored [3, 2]
    for (let o = 0; o < 2; o++) for (let i = 0; i < 3; i++) assert.ok(Math.abs(kernel[o * 3 + i]! - (uint16Values[i * 2 + o]! * 0.001 - 2)) < 1e-12);
  });

  it('reads the shards with the model (values are decoded later): a shard rewritten afterwards changes nothing', async () => {
    const read1 = await read(file);
    const bias = Array.from(load(nodeById(read1, 'd1'), 'bias'));
    fs.writeFileSync(path.join(dir, 'g0-b.bin'), Buffer.alloc(11, 0)); // same size, new bytes
    try {
      assert.deepEqual(Array.from(load(nodeById(read1, 'd1'), 'bias')), bias);
      assert.deepEqual(Array.from(load(nodeById(await read(file), 'd1'), 'bias')), [0, 0, 0], 'a new read sees the new bytes');
    } finally {
      fs.writeFileSync(path.join(dir, 'g0-b.bin'), group0.subarray(7));
    }
  });
});
