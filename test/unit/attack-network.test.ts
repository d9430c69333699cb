// The attack's float64 network (src/engine/attack/network/): forward pass against an independent direct-loop
// interpreter of the IR, every gradient against central finite differences, the shared-gradient naming round trip
// (folded batch norm included), and the fully-connected identity of docs/algorithm.md §3.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { readModelFile } from './files';
import { AttackNetwork } from '../../src/engine/attack/network/attackNetwork';
import { AttackSetupError } from '../../src/engine/attack/network/setupError';
import type { ActivationAttrs, ConvAttrs, LayerGraph, LayerNode, NodeAttrs, PoolAttrs, Shape, WeightTensor } from '../../src/engine/ir';
import { createRng } from '../../src/engine/numerics/random';

// onnxruntime-node writes a telemetry log into $TMPDIR per process unless this is set before the first session.
process.env.ORT_DISABLE_TELEMETRY = '1';

const generated = path.resolve(__dirname, '../fixtures/generated');
const load = (file: string) => readModelFile(path.join(generated, file));

/** A smooth synthetic image in [0, 1] with a little texture (no exact ties for max pooling or ReLU). */
function image(c: number, h: number, w: number, seed = 1): Float64Array {
  const rng = createRng(seed);
  const x = new Float64Array(c * h * w);
  for (let ch = 0; ch < c; ch++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++) {
        x[(ch * h + i) * w + j] = 0.5 + 0.3 * Math.sin((i + 2 * ch) / 4) * Math.cos((j - ch) / 6) + 0.1 * (rng.uniform() - 0.5);
      }
  return x;
}

function size(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Reference interpreter: the IR semantics written out with plain loops, sharing no code with the network

function referenceForward(graph: LayerGraph, x: Float64Array): Float64Array {
  const values = new Map<string, Float64Array>([[graph.inputs[0].name, x]]);
  for (const node of graph.nodes)
    values.set(
      node.outputs[0],
      referenceNode(
        node,
        node.inputs.map((t) => values.get(t)!),
      ),
    );
  return values.get(graph.outputs[0].name)!;
}

function referenceActivation(a: ActivationAttrs, z: number, slope: number): number {
  switch (a.activation) {
    case 'relu':
      return Math.max(0, z);
    case 'leakyRelu':
      return z >= 0 ? z : (a.alpha ?? 0.01) * z;
    case 'prelu':
      return z >= 0 ? z : slope * z;
    case 'sigmoid':
      return 1 / (1 + Math.exp(-z));
    case 'tanh':
      return Math.tanh(z);
    case 'elu':
      return z > 0 ? z : (a.alpha ?? 1) * (Math.exp(z) - 1);
    case 'linear':
      return z;
    default:
      throw new Error(`reference: activation ${a.activation}`);
  }
}

function referenceNode(node: LayerNode, inputs: Float64Array[]): Float64Array {
  const x = inputs[0];
  const inShape = node.inputShapes[0];
  const outShape = node.outputShapes[0];
  const out = new Float64Array(size(outShape));
  const w = node.weights;
  switch (node.op) {
    case 'conv': {
      const a = node.attrs as ConvAttrs & { kind: 'conv' };
      const [, C, H, W] = inShape;
      const [, F, Ho, Wo] = outShape;
      const K = w.kernel!.load();
      const b = w.bias?.load();
      const cg = C / a.groups;
      const fg = F / a.groups;
      for (let f = 0; f < F; f++)
        for (let u = 0; u < Ho; u++)
          for (let v = 0; v < Wo; v++) {
            let s = b ? b[f] : 0;
            for (let cr = 0; cr < cg; cr++)
              for (let p = 0; p < a.kernel[0]; p++)
                for (let q = 0; q < a.kernel[1]; q++) {
                  const i = u * a.strides[0] + p * a.dilations[0] - a.pads[0];
                  const j = v * a.strides[1] + q * a.dilations[1] - a.pads[1];
                  if (i < 0 || j < 0 || i >= H || j >= W) continue;
                  const c = Math.floor(f / fg) * cg + cr;
                  s += K[((f * cg + cr) * a.kernel[0] + p) * a.kernel[1] + q] * x[(c * H + i) * W + j];
                }
            out[(f * Ho + u) * Wo + v] = s;
          }
      return out;
    }
    case 'dense': {
      const K = w.kernel!.load();
      const b = w.bias?.load();
      const n = x.length;
      for (let i = 0; i < out.length; i++) {
        let s = b ? b[i] : 0;
        for (let j = 0; j < n; j++) s += K[i * n + j] * x[j];
        out[i] = s;
      }
      return out;
    }
    case 'batchNorm': {
      const eps = (node.attrs as { epsilon: number }).epsilon;
      const [g, beta, mean, variance] = [w.scale!.load(), w.bias!.load(), w.mean!.load(), w.variance!.load()];
      const per = size(inShape.slice(2));
      for (let k = 0; k < x.length; k++) {
        const c = Math.floor(k / per) % inShape[1];
        out[k] = ((x[k] - mean[c]) / Math.sqrt(variance[c] + eps)) * g[c] + beta[c];
      }
      return out;
    }
    case 'activation': {
      const a = node.attrs as ActivationAttrs & { kind: 'activation' };
      const slope = w.slope?.load();
      const per = size(inShape.slice(2));
      for (let k = 0; k < x.length; k++) out[k] = referenceActivation(a, x[k], slope ? slope[slope.length === 1 ? 0 : Math.floor(k / per) % inShape[1]] : 0);
      return out;
    }
    case 'maxPool':
    case 'avgPool': {
      const a = node.attrs as PoolAttrs & { kind: 'pool' };
      const [, C, H, W] = inShape;
      const [, , Ho, Wo] = outShape;
      for (let c = 0; c < C; c++)
        for (let u = 0; u < Ho; u++)
          for (let v = 0; v < Wo; v++) {
            let best = -Infinity;
            let sum = 0;
            let count = 0;
            for (let p = 0; p < a.kernel[0]; p++)
              for (let q = 0; q < a.kernel[1]; q++) {
                const i = u * a.strides[0] + p - a.pads[0];
                const j = v * a.strides[1] + q - a.pads[1];
                if (i < 0 || j < 0 || i >= H || j >= W) continue;
                best = Math.max(best, x[(c * H + i) * W + j]);
                sum += x[(c * H + i) * W + j];
                count++;
              }
            out[(c * Ho + u) * Wo + v] = node.op === 'maxPool' ? best : sum / (a.countIncludePad ? a.kernel[0] * a.kernel[1] : count);
          }
      return out;
    }
    case 'globalAvgPool': {
      const per = size(inShape.slice(2));
      for (let c = 0; c < inShape[1]; c++) {
        let s = 0;
        for (let k = 0; k < per; k++) s += x[c * per + k];
        out[c] = s / per;
      }
      return out;
    }
    case 'add':
    case 'sub':
    case 'mul': {
      if (w.operand) {
        const c = w.operand.load();
        const per = size(inShape.slice(2));
        for (let k = 0; k < x.length; k++) {
          const ck = c.length === 1 ? c[0] : c[Math.floor(k / per) % inShape[1]];
          out[k] = node.op === 'mul' ? x[k] * ck : node.op === 'add' ? x[k] + ck : x[k] - ck;
        }
        return out;
      }
      for (let k = 0; k < out.length; k++) out[k] = node.op === 'sub' ? inputs[0][k] - inputs[1][k] : inputs[0][k] + inputs[1][k];
      return out;
    }
    case 'flatten':
    case 'reshape':
      out.set(x);
      return out;
    case 'transpose': {
      // only [0, 2, 3, 1] (NCHW → NHWC) is used here
      const [, C, H, W] = inShape;
      for (let c = 0; c < C; c++) for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) out[(i * W + j) * C + c] = x[(c * H + i) * W + j];
      return out;
    }
    case 'pad': {
      const a = node.attrs as { pads: [number, number, number, number]; mode: string };
      const [, C, H, W] = inShape;
      const [, , Ho, Wo] = outShape;
      const reflect = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);
      for (let c = 0; c < C; c++)
        for (let i = 0; i < Ho; i++)
          for (let j = 0; j < Wo; j++) out[(c * Ho + i) * Wo + j] = x[(c * H + reflect(i - a.pads[0], H)) * W + reflect(j - a.pads[1], W)];
      return out;
    }
    case 'concat': {
      const per = size(outShape.slice(2));
      let offset = 0;
      for (const t of inputs) {
        out.set(t, offset);
        offset += t.length;
      }
      assert.equal(offset, per * outShape[1]);
      return out;
    }
    default:
      throw new Error(`reference: ${node.op}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A hand-built graph with the ops no fixture has: constant scaling of the input, asymmetric pads and dilation,
// PReLU, reflect padding, grouped strided conv, tanh/ELU, concat, padded average pooling (count_include_pad),
// a standalone sigmoid, subtraction of two branches, transpose, flatten, dense.

function weight(name: string, shape: Shape, seed: number, scale = 0.5): WeightTensor {
  const rng = createRng(seed);
  const values = new Float64Array(size(shape)).map(() => scale * (2 * rng.uniform() - 1));
  return { name, shape, storage: 'float32', load: () => values.slice() };
}

function syntheticGraph(): LayerGraph {
  const node = (
    id: string,
    op: LayerNode['op'],
    inputs: string[],
    inputShapes: Shape[],
    out: Shape,
    attrs: NodeAttrs,
    weights: LayerNode['weights'] = {},
  ): LayerNode => ({
    id,
    name: id,
    op,
    sourceOp: op,
    inputs,
    outputs: [id],
    inputShapes,
    outputShapes: [out],
    attrs,
    weights,
    location: { format: 'onnx', nodeIndex: 0, nodeName: id },
    status: 'ok',
  });
  const conv = (
    kernel: [number, number],
    strides: [number, number],
    dilations: [number, number],
    pads: [number, number, number, number],
    groups: number,
    outChannels: number,
  ): NodeAttrs => ({
    kind: 'conv',
    kernel,
    strides,
    dilations,
    pads,
    groups,
    outChannels,
  });
  const act = (activation: ActivationAttrs['activation'], alpha?: number): NodeAttrs => ({
    kind: 'activation',
    activation,
    ...(alpha !== undefined ? { alpha } : {}),
  });
  const nodes: LayerNode[] = [
    node(
      'scale_in',
      'mul',
      ['input'],
      [[1, 2, 6, 6]],
      [1, 2, 6, 6],
      { kind: 'none' },
      { operand: { ...weight('scale_in.c', [1, 2, 1, 1], 1), load: () => Float64Array.from([0.5, 2]) } },
    ),
    node('conv_a', 'conv', ['scale_in'], [[1, 2, 6, 6]], [1, 4, 6, 4], conv([3, 3], [1, 1], [1, 2], [1, 0, 1, 2], 1, 4), {
      kernel: weight('conv_a.weight', [4, 2, 3, 3], 2),
      bias: weight('conv_a.bias', [4], 3),
    }),
    node('prelu_a', 'activation', ['conv_a'], [[1, 4, 6, 4]], [1, 4, 6, 4], act('prelu'), { slope: weight('prelu_a.slope', [4, 1, 1], 4) }),
    node('pad_a', 'pad', ['prelu_a'], [[1, 4, 6, 4]], [1, 4, 8, 6], { kind: 'pad', pads: [1, 1, 1, 1], mode: 'reflect', value: 0 }),
    node('conv_b', 'conv', ['pad_a'], [[1, 4, 8, 6]], [1, 4, 3, 2], conv([3, 3], [2, 2], [1, 1], [0, 0, 0, 0], 2, 4), {
      kernel: weight('conv_b.weight', [4, 2, 3, 3], 5),
    }),
    node('tanh_b', 'activation', ['conv_b'], [[1, 4, 3, 2]], [1, 4, 3, 2], act('tanh')),
    node('conv_c', 'conv', ['tanh_b'], [[1, 4, 3, 2]], [1, 2, 3, 2], conv([1, 1], [1, 1], [1, 1], [0, 0, 0, 0], 1, 2), {
      kernel: weight('conv_c.weight', [2, 4, 1, 1], 6),
      bias: weight('conv_c.bias', [2], 7),
    }),
    node('elu_c', 'activation', ['conv_c'], [[1, 2, 3, 2]], [1, 2, 3, 2], act('elu', 1)),
    node(
      'cat',
      'concat',
      ['tanh_b', 'elu_c'],
      [
        [1, 4, 3, 2],
        [1, 2, 3, 2],
      ],
      [1, 6, 3, 2],
      { kind: 'axis', axis: 1 },
    ),
    node('pool', 'avgPool', ['cat'], [[1, 6, 3, 2]], [1, 6, 3, 2], {
      kind: 'pool',
      kernel: [2, 2],
      strides: [1, 1],
      dilations: [1, 1],
      pads: [1, 1, 0, 0],
      ceilMode: false,
      countIncludePad: true,
    }),
    node('sig', 'activation', ['pool'], [[1, 6, 3, 2]], [1, 6, 3, 2], act('sigmoid')),
    node(
      'diff',
      'sub',
      ['sig', 'cat'],
      [
        [1, 6, 3, 2],
        [1, 6, 3, 2],
      ],
      [1, 6, 3, 2],
      { kind: 'none' },
    ),
    node('tr', 'transpose', ['diff'], [[1, 6, 3, 2]], [1, 3, 2, 6], { kind: 'transpose', perm: [0, 2, 3, 1] }),
    node('flat', 'flatten', ['tr'], [[1, 3, 2, 6]], [1, 36], { kind: 'axis', axis: 1 }),
    node(
      'fc',
      'dense',
      ['flat'],
      [[1, 36]],
      [1, 5],
      { kind: 'dense', inFeatures: 36, outFeatures: 5 },
      { kernel: weight('fc.weight', [5, 36], 8, 1), bias: weight('fc.bias', [5], 9) },
    ),
  ];
  return {
    format: 'onnx',
    file: 'synthetic.onnx',
    inputs: [{ name: 'input', shape: [1, 2, 6, 6] }],
    outputs: [{ name: 'fc', shape: [1, 5] }],
    nodes,
    warnings: [],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Finite differences

/** Central difference of f at 0 with step h. */
function centralDifference(f: (h: number) => number, h: number): number {
  return (f(h) - f(-h)) / (2 * h);
}

/**
 * Relative error with a floor at a tenth of the tensor's largest entry: float64 rounding of the loss (~1e-15) over the
 * step limits what finite differences can resolve, so tiny entries are compared against the tensor's scale.
 */
function relErr(analytic: number, numeric: number, scale: number): number {
  return Math.abs(analytic - numeric) / Math.max(Math.abs(analytic), 0.1 * scale);
}

/**
 * Finite-difference agreement at a few step sizes, best one kept: piecewise-linear activations (LeakyReLU, ReLU,
 * max pooling) make the loss non-smooth where a unit changes side, and a step that crosses such a point is
 * not a statement about the gradient.
 */
function bestAgreement(f: (h: number) => number, analytic: number, scale: number, base: number): number {
  let best = Infinity;
  for (const h of [base, base / 5, base * 4]) {
    best = Math.min(best, relErr(analytic, centralDifference(f, h), scale));
    if (best < 1e-7) break;
  }
  return best;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

/** Checks parameter and input gradients of `net` on a random subset against finite differences; returns the worst relative error. */
function checkGradients(net: AttackNetwork, x: Float64Array, label: number, perTensor: number, seed: number): { worst: number; checked: number } {
  const rng = createRng(seed);
  const pick = (n: number) => Math.floor(rng.uniform() * n);
  const { step, inputGradient } = net.trainingStep(x, label);
  let worst = 0;
  let checked = 0;
  const probe = (values: Float64Array, analytic: Float64Array, loss: () => number) => {
    const scale = maxAbs(analytic);
    for (let t = 0; t < perTensor; t++) {
      const j = pick(values.length);
      const old = values[j];
      const f = (d: number) => {
        values[j] = old + d;
        const l = loss();
        values[j] = old;
        return l;
      };
      worst = Math.max(worst, bestAgreement(f, analytic[j], scale, 1e-5 * Math.max(1, Math.abs(old))));
      checked++;
    }
  };
  for (const unitId of net.parameterUnits) {
    const g = step.gradients.get(unitId)!;
    probe(net.kernel(unitId), g.kernel, () => net.loss(x, label));
    const b = net.bias(unitId);
    if (b) probe(b, g.bias!, () => net.loss(x, label));
  }
  const xs = x.slice();
  probe(xs, inputGradient, () => net.loss(xs, label));
  return { worst, checked };
}

function maxRelDiff(a: Float64Array, b: Float64Array): number {
  const scale = Math.max(maxAbs(a), 1e-300);
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k] - b[k]) / scale);
  return m;
}

// ---------------------------------------------------------------------------------------------------------------

test('forward matches a direct-loop interpreter of the IR (conv nets, BN/max-pool/residual, depthwise, synthetic ops)', async () => {
  const cases: [string, LayerGraph][] = [
    ['lenet-sigmoid', await load('lenet-sigmoid/model.onnx')],
    ['cnn6', await load('cnn6/model.onnx')],
    ['bn-maxpool-residual', await load('bn-maxpool-residual/model.onnx')],
    ['depthwise-net', await load('depthwise-net/model.onnx')],
    ['synthetic', syntheticGraph()],
  ];
  for (const [name, graph] of cases) {
    const net = AttackNetwork.fromGraph(graph);
    const [c, h, w] = net.inputShape;
    const x = image(c, h, w, 7);
    const trace = net.forward(x);
    const reference = referenceForward(graph, x);
    assert.equal(trace.logits.length, reference.length, name);
    assert.ok(maxRelDiff(reference, trace.logits) < 1e-12, `${name}: logits differ by ${maxRelDiff(reference, trace.logits)}`);
    // Units chain: each unit's recorded output is what the next one reads.
    for (const u of net.order) {
      if (u.inputs.length === 1) assert.equal(net.unitInput(trace, u.id), trace.output.get(u.inputs[0]), `${name}: input of ${u.id}`);
    }
  }
});

test('forward matches onnxruntime-node (float32) on the ONNX fixtures', async (t) => {
  let ort: typeof import('onnxruntime-node');
  try {
    ort = await import('onnxruntime-node');
  } catch (e) {
    t.skip(`onnxruntime-node is not loadable here: ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  for (const name of ['cnn6', 'lenet-sigmoid', 'bn-maxpool-residual', 'depthwise-net', 'relu-net', 'mlp']) {
    const file = path.join(generated, name, 'model.onnx');
    const graph = await readModelFile(file);
    const net = AttackNetwork.fromGraph(graph);
    const [c, h, w] = net.inputShape;
    const x = image(c, h, w, 12);
    const session = await ort.InferenceSession.create(file);
    const input = new ort.Tensor('float32', Float32Array.from(x), graph.inputs[0].shape);
    const output = (await session.run({ [session.inputNames[0]]: input }))[session.outputNames[0]].data as Float32Array;
    const logits = net.logits(Float64Array.from(Float32Array.from(x)));
    const diff = maxRelDiff(Float64Array.from(output), logits);
    t.diagnostic(`${name}: max |Δ| / max |logit| = ${diff.toExponential(2)}`);
    assert.ok(diff < 1e-5, `${name}: ${diff}`);
  }
});

test('network structure: units, logits, classes, input shape; BN folded into the kernel and bias', async () => {
  const net = AttackNetwork.fromGraph(await load('bn-maxpool-residual/model.onnx'));
  assert.deepEqual(net.inputShape, [3, 32, 32]);
  assert.equal(net.classes, 10);
  assert.equal(net.logitsUnit.id, 'dense_1');
  assert.deepEqual(
    net.order.map((u) => `${u.id}:${u.kind}`),
    ['conv_1:conv', 'max_pool_1:maxPool', 'conv_2:conv', 'conv_3:conv', 'add_1:residual', 'relu_3:passThrough', 'global_avg_pool_1:avgPool', 'dense_1:dense'],
  );
  // (b − μ)·γ/√(v+ε) + β and W·γ/√(v+ε), from the raw IR tensors
  const graph = net.graph;
  const conv = graph.nodes.find((n) => n.id === 'conv_1')!;
  const bn = graph.nodes.find((n) => n.id === 'batch_norm_1')!;
  const eps = (bn.attrs as { epsilon: number }).epsilon;
  const [g, beta, mean, variance] = [bn.weights.scale!.load(), bn.weights.bias!.load(), bn.weights.mean!.load(), bn.weights.variance!.load()];
  const b = conv.weights.bias!.load();
  const K = conv.weights.kernel!.load();
  const f = (c: number) => g[c] / Math.sqrt(variance[c] + eps);
  const bias = net.bias('conv_1')!;
  const kernel = net.kernel('conv_1');
  for (let c = 0; c < 16; c++) {
    assert.ok(Math.abs(bias[c] - ((b[c] - mean[c]) * f(c) + beta[c])) < 1e-12);
    for (let j = 0; j < 27; j++) assert.ok(Math.abs(kernel[c * 27 + j] - K[c * 27 + j] * f(c)) < 1e-12);
  }
  assert.equal(net.bias('conv_2')!.length, 16, 'BN gives a bias-free conv a bias');
  assert.equal(AttackNetwork.fromGraph(await load('cnn6/model.onnx')).bias('conv_1'), undefined);
});

test('gradients match central finite differences (parameters and input)', async (t) => {
  const cases: [string, string, number][] = [
    ['cnn6 (LeakyReLU)', 'cnn6/model.onnx', 2],
    ['lenet-sigmoid (sigmoid, biases)', 'lenet-sigmoid/model.onnx', 3],
    ['relu-net', 'relu-net/model.onnx', 3],
    ['bn-maxpool-residual', 'bn-maxpool-residual/model.onnx', 3],
    ['depthwise-net (groups, avg pool)', 'depthwise-net/model.onnx', 3],
    ['mlp', 'mlp/model.onnx', 4],
    ['cnn6 TF.js', 'cnn6/tfjs/model.json', 1],
  ];
  for (const [name, file, perTensor] of cases) {
    const net = AttackNetwork.fromGraph(await load(file));
    const [c, h, w] = net.inputShape;
    const { worst, checked } = checkGradients(net, image(c, h, w, 3), 4, perTensor, 11);
    t.diagnostic(`${name}: ${checked} entries, worst relative error ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-6, `${name}: worst relative error ${worst}`);
  }
  const synthetic = AttackNetwork.fromGraph(syntheticGraph());
  const { worst, checked } = checkGradients(synthetic, image(2, 6, 6, 5), 2, 4, 13);
  t.diagnostic(`synthetic ops: ${checked} entries, worst relative error ${worst.toExponential(2)}`);
  assert.ok(worst < 1e-6, `synthetic: worst relative error ${worst}`);
});

test('TF.js and ONNX versions of cnn6 give the same gradients, under their own parameter names', async () => {
  const onnx = AttackNetwork.fromGraph(await load('cnn6/model.onnx'));
  const tfjs = AttackNetwork.fromGraph(await load('cnn6/tfjs/model.json'));
  const x = image(3, 32, 32, 9);
  const a = onnx.trainingStep(x, 2);
  const b = tfjs.trainingStep(x, 2);
  assert.ok(Math.abs(a.step.loss - b.step.loss) < 1e-9);
  assert.deepEqual([...a.step.gradients.keys()], [...b.step.gradients.keys()]);
  for (const [id, g] of a.step.gradients) {
    const h = b.step.gradients.get(id)!;
    // float32 LeakyReLU alpha 0.2 in ONNX vs 0.2 in Keras: a 1.5e-8 relative difference
    assert.ok(maxRelDiff(g.kernel, h.kernel) < 1e-6, `${id}: kernel gradients differ by ${maxRelDiff(g.kernel, h.kernel)}`);
    if (g.bias) assert.ok(maxRelDiff(g.bias, h.bias!) < 1e-6);
  }
  assert.ok(maxRelDiff(a.inputGradient, b.inputGradient) < 1e-6);
  const named = tfjs.namedGradients(b.step, b.trace);
  assert.deepEqual(
    [...named.keys()],
    ['conv_1/kernel', 'conv_2/kernel', 'conv_3/kernel', 'conv_4/kernel', 'conv_5/kernel', 'conv_6/kernel', 'dense_1/kernel', 'dense_1/bias'],
  );
  assert.deepEqual(named.get('conv_2/kernel')!.shape, [36, 12, 3, 3]);
  assert.deepEqual(named.get('dense_1/kernel')!.shape, [10, 3200]);
});

test('named gradients round-trip to the per-unit gradients; folded BN parameters match finite differences on the original parameters', async (t) => {
  for (const file of [
    'bn-maxpool-residual/model.onnx',
    'bn-maxpool-residual/tfjs/model.json',
    'lenet-sigmoid/model.onnx',
    'mlp/model.onnx',
    'depthwise-net/model.onnx',
  ]) {
    const net = AttackNetwork.fromGraph(await load(file));
    const [c, h, w] = net.inputShape;
    const { trace, step } = net.trainingStep(image(c, h, w, 2), 6);
    const named = net.namedGradients(step, trace);
    const back = net.sharedGradientsFromNamed(named);
    assert.deepEqual([...back.keys()], [...step.gradients.keys()], file);
    for (const [id, g] of step.gradients) {
      const r = back.get(id)!;
      assert.ok(maxRelDiff(g.kernel, r.kernel) < 1e-12, `${file} ${id} kernel`);
      assert.equal(r.bias === undefined, g.bias === undefined, `${file} ${id} bias presence`);
      if (g.bias) assert.ok(maxRelDiff(g.bias, r.bias!) < 1e-12, `${file} ${id} bias`);
    }
  }

  // ∂ℓ/∂(original parameter) by finite differences on a rebuilt network with one weight perturbed.
  const graph = await load('bn-maxpool-residual/model.onnx');
  const x = image(3, 32, 32, 4);
  const label = 1;
  const net = AttackNetwork.fromGraph(graph);
  const { trace, step } = net.trainingStep(x, label);
  const named = net.namedGradients(step, trace);
  assert.deepEqual(
    [...named.keys()].filter((k) => k.startsWith('batch_norm_1') || k.startsWith('conv_1')),
    ['conv_1.weight', 'conv_1.bias', 'batch_norm_1.bias', 'batch_norm_1.weight'],
  );
  const perturbed = (name: string, j: number, d: number): LayerGraph => ({
    ...graph,
    nodes: graph.nodes.map((n) => {
      const key = (Object.keys(n.weights) as (keyof LayerNode['weights'])[]).find((k) => n.weights[k]?.name === name);
      if (!key) return n;
      const original = n.weights[key]!;
      const changed: WeightTensor = {
        ...original,
        load: () => {
          const v = original.load().slice();
          v[j] += d;
          return v;
        },
      };
      return { ...n, weights: { ...n.weights, [key]: changed } };
    }),
  });
  let worst = 0;
  for (const [name, j] of [
    ['conv_1.weight', 5],
    ['conv_1.bias', 3],
    ['batch_norm_1.weight', 7],
    ['batch_norm_1.bias', 2],
    ['batch_norm_2.weight', 11],
    ['batch_norm_3.bias', 4],
    ['conv_3.weight', 100],
    ['dense_1.bias', 6],
  ] as const) {
    const analytic = named.get(name)!.values;
    const numeric = centralDifference((d) => AttackNetwork.fromGraph(perturbed(name, j, d)).loss(x, label), 1e-4);
    const err = relErr(analytic[j], numeric, maxAbs(analytic));
    worst = Math.max(worst, err);
    assert.ok(err < 1e-6, `${name}[${j}]: analytic ${analytic[j]}, numeric ${numeric}`);
  }
  t.diagnostic(`original BN/conv parameters: worst relative error ${worst.toExponential(2)}`);

  // PReLU slopes of the synthetic graph are shared too.
  const syn = syntheticGraph();
  const sNet = AttackNetwork.fromGraph(syn);
  const xs = image(2, 6, 6, 8);
  const sStep = sNet.trainingStep(xs, 3);
  const sNamed = sNet.namedGradients(sStep.step, sStep.trace);
  assert.deepEqual([...sNamed.keys()].sort(), [
    'conv_a.bias',
    'conv_a.weight',
    'conv_b.weight',
    'conv_c.bias',
    'conv_c.weight',
    'fc.bias',
    'fc.weight',
    'prelu_a.slope',
  ]);
  const slopeNode = syn.nodes.find((n) => n.id === 'prelu_a')!;
  for (let j = 0; j < 4; j++) {
    const numeric = centralDifference((d) => {
      const original = slopeNode.weights.slope!;
      const g2 = {
        ...syn,
        nodes: syn.nodes.map((n) =>
          n === slopeNode ? { ...n, weights: { slope: { ...original, load: () => original.load().map((v, k) => (k === j ? v + d : v)) } } } : n,
        ),
      };
      return AttackNetwork.fromGraph(g2).loss(xs, 3);
    }, 1e-4);
    const analytic = sNamed.get('prelu_a.slope')!.values;
    assert.ok(relErr(analytic[j], numeric, maxAbs(analytic)) < 1e-6, `slope ${j}: ${analytic[j]} vs ${numeric}`);
  }
});

test('sharedGradientsFromNamed names the missing or mis-shaped parameter', async () => {
  const net = AttackNetwork.fromGraph(await load('bn-maxpool-residual/model.onnx'));
  const { trace, step } = net.trainingStep(image(3, 32, 32), 0);
  const named = net.namedGradients(step, trace);
  const missing = new Map(named);
  missing.delete('conv_2.weight');
  assert.throws(
    () => net.sharedGradientsFromNamed(missing),
    (e: unknown) => e instanceof AttackSetupError && e.unitId === 'conv_2' && /conv_2\.weight/.test(e.message),
  );
  const misShaped = new Map(named);
  misShaped.set('dense_1.weight', { shape: [16, 10], values: named.get('dense_1.weight')!.values });
  assert.throws(
    () => net.sharedGradientsFromNamed(misShaped),
    (e: unknown) => e instanceof AttackSetupError && /dense_1\.weight.*\[16, 10\]/.test(e.message),
  );
  // Without the BN offset gradient the conv bias gradient still gives g' (conv_1 has one); conv_2 has none.
  const noBeta = new Map(named);
  noBeta.delete('batch_norm_1.bias');
  const back = net.sharedGradientsFromNamed(noBeta);
  assert.ok(maxRelDiff(step.gradients.get('conv_1')!.bias!, back.get('conv_1')!.bias!) < 1e-12);
  const noBeta2 = new Map(named);
  noBeta2.delete('batch_norm_2.bias');
  assert.throws(() => net.sharedGradientsFromNamed(noBeta2), /batch_norm_2\.bias/);
});

test('fully connected identity G Wᵀ = δz (z − b)ᵀ (docs/algorithm.md §3.1) and the training-step bookkeeping', async () => {
  for (const file of ['mlp/model.onnx', 'cnn6/model.onnx']) {
    const net = AttackNetwork.fromGraph(await load(file));
    const [c, h, w] = net.inputShape;
    const { trace, step } = net.trainingStep(image(c, h, w, 6), 8);
    // δ logits = p − e_y; the bias gradient of the last layer equals it
    const dLogits = step.preActivationGrad.get(net.logitsUnit.id)!;
    for (let k = 0; k < net.classes; k++) assert.ok(Math.abs(dLogits[k] - (step.probabilities[k] - (k === 8 ? 1 : 0))) < 1e-15);
    for (const u of net.order.filter((v) => v.kind === 'dense')) {
      const G = step.gradients.get(u.id)!.kernel;
      const W = net.kernel(u.id);
      const b = net.bias(u.id);
      const z = trace.preActivation.get(u.id)!;
      const dz = step.preActivationGrad.get(u.id)!;
      const m = z.length;
      const n = W.length / m;
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < m; i++)
        for (let j = 0; j < m; j++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += G[i * n + k] * W[j * n + k];
          const rhs = dz[i] * (z[j] - (b ? b[j] : 0));
          worst = Math.max(worst, Math.abs(s - rhs));
          scale = Math.max(scale, Math.abs(rhs));
        }
      assert.ok(worst <= 1e-12 * Math.max(scale, 1e-300) + 1e-300, `${file} ${u.id}: ${worst} vs scale ${scale}`);
      if (b) assert.ok(maxRelDiff(dz, step.gradients.get(u.id)!.bias!) < 1e-15);
    }
  }
});

test('units that cannot run raise AttackSetupError naming the unit', async () => {
  const graph = await load('bn-maxpool-residual/model.onnx');
  const training: LayerGraph = {
    ...graph,
    nodes: graph.nodes.map((n) => (n.id === 'batch_norm_2' ? { ...n, attrs: { kind: 'norm', epsilon: 1e-5, trainingMode: true } } : n)),
  };
  assert.throws(
    () => AttackNetwork.fromGraph(training),
    (e: unknown) => e instanceof AttackSetupError && e.unitId === 'batch_norm_2' && /training mode/.test(e.message),
  );
  const unsupported: LayerGraph = {
    ...graph,
    nodes: graph.nodes.map((n) => (n.id === 'conv_3' ? { ...n, status: 'unsupported', note: 'pretend this operator is unknown' } : n)),
  };
  assert.throws(
    () => AttackNetwork.fromGraph(unsupported),
    (e: unknown) => e instanceof AttackSetupError && e.unitId === 'conv_3' && /pretend/.test(e.message),
  );
  const net = AttackNetwork.fromGraph(graph);
  assert.throws(() => net.kernel('max_pool_1'), AttackSetupError);
  // From conv_2's input the skip reads the sub-network's own input: fine. From conv_3's it reads a tensor computed before.
  assert.equal(net.subNetwork('conv_2').parameterUnits.join(','), 'conv_2,conv_3,dense_1');
  assert.throws(
    () => net.subNetwork('conv_3'),
    (e: unknown) => e instanceof AttackSetupError && e.unitId === 'conv_3' && /not a chain/.test(e.message),
  );
  assert.throws(() => net.trainingStep(new Float64Array(3072), 10), RangeError);
});
