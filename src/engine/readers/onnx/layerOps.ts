// Converters for the parametric and windowed layers: Conv, ConvTranspose, pooling, Gemm/MatMul, normalisation.
import type { NodeWeights, Pads4, Shape } from '../../ir';
import { sizeOf } from '../../ir';
import { samePadding, transposedOutputSize, windowOutputSize } from '../../shapes';
import { reshaped, scaled, transposed2d, broadcastTo } from './constOps';
import { unsupported, type Converter, type LayerSpec, type NodeView, type Outcome } from './nodeView';
import { broadcastShapes, formatShape, matmulShape, mismatch } from './shapeMath';
import { asWeight, type ConstTensor } from './tensors';

interface Pads {
  padsBegin: number[];
  padsEnd: number[];
}

interface Window extends Pads {
  strides: number[];
  dilations: number[];
}

/** Checks a per-axis parameter: `valuesPerAxis` integers (at least `min`) for each of the `rank` spatial axes. */
function perAxis(name: string, values: number[], rank: number, min: number, valuesPerAxis = 1): number[] {
  if (values.length !== rank * valuesPerAxis || values.some((v) => !Number.isInteger(v) || v < min)) {
    mismatch(`${name} ${formatShape(values)} is invalid for ${rank} spatial axes`);
  }
  return values;
}

/** strides / dilations (default 1). */
function steps(node: NodeView, name: string, rank: number): number[] {
  return perAxis(name, node.attrs.ints(name) ?? new Array<number>(rank).fill(1), rank, 1);
}

/** The `pads` attribute (zeros when absent or auto_pad is VALID) as per-axis begin/end pads. */
function explicitPads(node: NodeView, rank: number, autoPad: string): Pads {
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') mismatch(`unknown auto_pad "${autoPad}"`);
  const pads = perAxis('pads', (autoPad === 'NOTSET' && node.attrs.ints('pads')) || new Array<number>(2 * rank).fill(0), rank, 0, 2);
  return { padsBegin: pads.slice(0, rank), padsEnd: pads.slice(rank) };
}

function isSame(autoPad: string): boolean {
  return autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER';
}

/** Strides, dilations and explicit pads of a Conv/pool window over `spatial` (auto_pad resolved). */
function windowOf(node: NodeView, spatial: Shape, kernel: number[]): Window {
  const rank = spatial.length;
  perAxis('kernel_shape', kernel, rank, 1);
  const strides = steps(node, 'strides', rank);
  const dilations = steps(node, 'dilations', rank);
  const autoPad = node.attrs.string('auto_pad', 'NOTSET');
  if (!isSame(autoPad)) return { strides, dilations, ...explicitPads(node, rank, autoPad) };
  const pads = spatial.map((dim, i) => samePadding(dim, kernel[i], strides[i], dilations[i], autoPad === 'SAME_UPPER'));
  return { strides, dilations, padsBegin: pads.map((p) => p[0]), padsEnd: pads.map((p) => p[1]) };
}

function windowOutput(spatial: Shape, kernel: number[], window: Window, ceilMode = false): number[] {
  const { strides, dilations, padsBegin, padsEnd } = window;
  return spatial.map((dim, i) => windowOutputSize(dim, kernel[i], strides[i], dilations[i], padsBegin[i], padsEnd[i], ceilMode));
}

function pads4(window: Window): Pads4 {
  return [window.padsBegin[0], window.padsBegin[1], window.padsEnd[0], window.padsEnd[1]];
}

function pair(values: number[]): [number, number] {
  return [values[0], values[1]];
}

/** kernel_shape, which must agree with the kernel tensor's spatial dims (and is inferred from them when absent). */
function kernelOf(node: NodeView, weights: Shape): number[] {
  const kernel = node.attrs.ints('kernel_shape') ?? weights.slice(2);
  if (formatShape(kernel) !== formatShape(weights.slice(2))) {
    mismatch(`kernel_shape ${formatShape(kernel)} differs from the kernel ${formatShape(weights)}`);
  }
  return kernel;
}

function dataShape(node: NodeView, minRank: number): Shape {
  const shape = node.shapeOf(0);
  if (shape.length < minRank) mismatch(`input ${formatShape(shape)} needs at least ${minRank} dimensions`);
  return shape;
}

/** Bias input `index` as a [channels] weight; a string says why it cannot be one. */
function channelBias(node: NodeView, index: number, channels: number, factor = 1): NodeWeights['bias'] | string | undefined {
  if (node.input(index) === undefined) return undefined;
  const bias = node.constant(index);
  if (!bias) return 'the bias is computed at run time';
  const count = sizeOf(bias.shape);
  if (count === channels) return asWeight(scaled(reshaped(bias, [channels]), factor));
  if (count === 1) return asWeight(scaled(broadcastTo(reshaped(bias, [1]), [channels]), factor));
  return mismatch(`bias ${formatShape(bias.shape)} does not match ${channels} output channels`);
}

function withBias(node: NodeView, index: number, channels: number, spec: LayerSpec, factor = 1): Outcome {
  const bias = channelBias(node, index, channels, factor);
  if (typeof bias === 'string') return unsupported(bias, spec.outputShapes);
  return bias ? { ...spec, weights: { ...spec.weights, bias } } : spec;
}

const conv: Converter = (node) => {
  const x = dataShape(node, 3);
  const w = node.shapeOf(1);
  const groups = node.attrs.int('group', 1);
  if (w.length !== x.length) mismatch(`kernel ${formatShape(w)} does not match input ${formatShape(x)}`);
  if (groups < 1 || x[1] !== w[1] * groups || w[0] % groups !== 0) {
    mismatch(`input ${formatShape(x)} does not fit kernel ${formatShape(w)} with group ${groups}`);
  }
  const kernel = kernelOf(node, w);
  const spatial = x.slice(2);
  const window = windowOf(node, spatial, kernel);
  const out = [x[0], w[0], ...windowOutput(spatial, kernel, window)];
  const weights = node.constant(1);
  if (!weights) return unsupported('the kernel is computed at run time', [out]);
  if (spatial.length !== 2) return unsupported(`${spatial.length}-D convolution is not analysed`, [out]);
  const spec: LayerSpec = {
    op: 'conv',
    attrs: {
      kind: 'conv',
      kernel: pair(kernel),
      strides: pair(window.strides),
      dilations: pair(window.dilations),
      pads: pads4(window),
      groups,
      outChannels: w[0],
    },
    weights: { kernel: asWeight(weights) },
    outputShapes: [out],
  };
  return withBias(node, 2, w[0], spec);
};

/** ConvTranspose pads: explicit, or derived from output_shape / auto_pad SAME (ONNX spec formulas). */
function transposedPads(node: NodeView, spatial: Shape, kernel: number[], strides: number[], dilations: number[], outputPadding: number[]): Pads {
  const rank = spatial.length;
  const autoPad = node.attrs.string('auto_pad', 'NOTSET');
  const requested = node.attrs.ints('output_shape')?.slice(-rank);
  if (!requested && !isSame(autoPad)) return explicitPads(node, rank, autoPad);
  const target = requested ?? spatial.map((dim, i) => dim * strides[i]);
  const totals = spatial.map((dim, i) => strides[i] * (dim - 1) + outputPadding[i] + (kernel[i] - 1) * dilations[i] + 1 - target[i]);
  // SAME_UPPER puts the odd pixel at the end, everything else at the start.
  const padsBegin = totals.map((t) => (autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : t - Math.floor(t / 2)));
  return { padsBegin, padsEnd: totals.map((t, i) => t - padsBegin[i]) };
}

/** ConvTranspose; the kernel stays in ONNX layout [C_in, C_out/group, kH, kW] (see ConvAttrs.outChannels). */
const convTranspose: Converter = (node) => {
  const x = dataShape(node, 3);
  const w = node.shapeOf(1);
  const groups = node.attrs.int('group', 1);
  if (w.length !== x.length || groups < 1 || x[1] !== w[0]) mismatch(`input ${formatShape(x)} does not fit kernel ${formatShape(w)}`);
  const rank = x.length - 2;
  const spatial = x.slice(2);
  const kernel = kernelOf(node, w);
  const strides = steps(node, 'strides', rank);
  const dilations = steps(node, 'dilations', rank);
  const outputPadding = perAxis('output_padding', node.attrs.ints('output_padding') ?? new Array<number>(rank).fill(0), rank, 0);
  const { padsBegin, padsEnd } = transposedPads(node, spatial, kernel, strides, dilations, outputPadding);
  const outChannels = w[1] * groups;
  const outSpatial = spatial.map((dim, i) => transposedOutputSize(dim, kernel[i], strides[i], dilations[i], padsBegin[i], padsEnd[i], outputPadding[i]));
  const out = [x[0], outChannels, ...outSpatial];
  const weights = node.constant(1);
  if (!weights) return unsupported('the kernel is computed at run time', [out]);
  if (rank !== 2) return unsupported(`${rank}-D transposed convolution is not analysed`, [out]);
  const spec: LayerSpec = {
    op: 'convTranspose',
    attrs: {
      kind: 'conv',
      kernel: pair(kernel),
      strides: pair(strides),
      dilations: pair(dilations),
      pads: [padsBegin[0], padsBegin[1], padsEnd[0], padsEnd[1]],
      groups,
      outChannels,
      outputPadding: pair(outputPadding),
    },
    weights: { kernel: asWeight(weights) },
    outputShapes: [out],
  };
  return withBias(node, 2, outChannels, spec);
};

function pool(op: 'maxPool' | 'avgPool'): Converter {
  return (node) => {
    const x = dataShape(node, 3);
    const kernel = node.attrs.ints('kernel_shape');
    if (!kernel) mismatch('kernel_shape is missing');
    const spatial = x.slice(2);
    const window = windowOf(node, spatial, kernel);
    const ceilMode = node.attrs.flag('ceil_mode', false);
    const out = [x[0], x[1], ...windowOutput(spatial, kernel, window, ceilMode)];
    if (spatial.length !== 2) return unsupported(`${spatial.length}-D pooling is not analysed`, [out]);
    return {
      op,
      attrs: {
        kind: 'pool',
        kernel: pair(kernel),
        strides: pair(window.strides),
        dilations: pair(window.dilations),
        pads: pads4(window),
        ceilMode,
        countIncludePad: op === 'avgPool' && node.attrs.flag('count_include_pad', false),
      },
      outputShapes: [out],
    };
  };
}

function globalPool(op: 'globalAvgPool' | 'globalMaxPool'): Converter {
  return (node) => {
    const x = dataShape(node, 3);
    return { op, outputShapes: [[x[0], x[1], ...x.slice(2).map(() => 1)]] };
  };
}

const gemm: Converter = (node) => {
  const a = node.shapeOf(0);
  const b = node.shapeOf(1);
  if (a.length !== 2 || b.length !== 2) mismatch(`Gemm needs 2-D operands, not ${formatShape(a)} and ${formatShape(b)}`);
  const transA = node.attrs.flag('transA', false);
  const transB = node.attrs.flag('transB', false);
  const alpha = node.attrs.finite('alpha', 1);
  const beta = node.attrs.finite('beta', 1);
  const [m, k] = transA ? [a[1], a[0]] : a;
  const [kb, n] = transB ? [b[1], b[0]] : b;
  if (k !== kb) mismatch(`cannot multiply ${formatShape(a)} by ${formatShape(b)} (transA=${+transA}, transB=${+transB})`);
  const out = [m, n];
  const c = node.input(2);
  if (c && c.kind !== 'unknown') {
    const cShape = c.kind === 'activation' ? c.shape : c.tensor.shape;
    if (formatShape(broadcastShapes([cShape, out])) !== formatShape(out)) {
      mismatch(`bias ${formatShape(cShape)} does not broadcast to ${formatShape(out)}`);
    }
  }
  if (transA) return unsupported('transA=1: the input is used transposed', [out]);
  const weights = node.constant(1);
  if (!weights) return unsupported('the weight matrix is computed at run time', [out]);
  const bias = node.constant(2);
  if (bias && sizeOf(bias.shape) !== 1 && bias.shape.slice(0, -1).some((d) => d !== 1)) return unsupported('the bias differs per row', [out]);
  const kernel: ConstTensor = transB ? weights : transposed2d(weights);
  const spec: LayerSpec = {
    op: 'dense',
    attrs: { kind: 'dense', inFeatures: k, outFeatures: n },
    weights: { kernel: asWeight(scaled(kernel, alpha)) },
    outputShapes: [out],
  };
  return withBias(node, 2, n, spec, beta);
};

const matMul: Converter = (node) => {
  const a = node.shapeOf(0);
  const b = node.shapeOf(1);
  const out = matmulShape(a, b);
  const weights = node.constant(1);
  if (!weights) return unsupported('multiplies two run-time tensors', [out]);
  if (a.length !== 2 || b.length !== 2) {
    return unsupported(`MatMul of ${formatShape(a)} by ${formatShape(b)} is not analysed as a dense layer`, [out]);
  }
  return {
    op: 'dense',
    attrs: { kind: 'dense', inFeatures: b[0], outFeatures: b[1] },
    weights: { kernel: asWeight(transposed2d(weights)) },
    outputShapes: [out],
  };
};

/** The per-channel parameters of a normalisation, or a reason they cannot be used. */
function channelParams(node: NodeView, from: number, count: number, channels: number): ConstTensor[] | string {
  const params: ConstTensor[] = [];
  for (let i = from; i < from + count; i++) {
    const param = node.constant(i);
    if (!param) return node.input(i) ? 'normalisation parameters are computed at run time' : `input ${i} is missing`;
    if (sizeOf(param.shape) !== channels) mismatch(`parameter ${formatShape(param.shape)} does not match ${channels} channels`);
    params.push(reshaped(param, [channels]));
  }
  return params;
}

const batchNorm: Converter = (node) => {
  const x = dataShape(node, 2);
  if (node.opset < 9 && !node.attrs.flag('spatial', true)) {
    return unsupported('BatchNormalization with spatial=0 (per-activation statistics) is not modelled', [x]);
  }
  const params = channelParams(node, 1, 4, x[1]);
  if (typeof params === 'string') return unsupported(params, [x]);
  const [scale, bias, mean, variance] = params.map(asWeight);
  // Training mode: training_mode (opset 14+), the optional statistics outputs (7-13), is_test=0 (before 7).
  const extraOutputs = node.outputNames.slice(1).some((name) => name !== '');
  const trainingMode = node.opset >= 14 ? node.attrs.flag('training_mode', false) : node.opset >= 7 ? extraOutputs : !node.attrs.flag('is_test', false);
  return {
    op: 'batchNorm',
    attrs: { kind: 'norm', epsilon: node.attrs.finite('epsilon', 1e-5, 0), trainingMode },
    weights: { scale, bias, mean, variance },
    outputShapes: [x],
  };
};

const instanceNorm: Converter = (node) => {
  const x = dataShape(node, 3);
  const params = channelParams(node, 1, 2, x[1]);
  if (typeof params === 'string') return unsupported(params, [x]);
  const [scale, bias] = params.map(asWeight);
  // Instance statistics come from each sample alone, never from the batch.
  return {
    op: 'instanceNorm',
    attrs: { kind: 'norm', epsilon: node.attrs.finite('epsilon', 1e-5, 0), trainingMode: false },
    weights: { scale, bias },
    outputShapes: [x],
  };
};

const lrn: Converter = (node) => unsupported('local response normalisation (LRN) is not modelled', [node.shapeOf(0)]);

export const LAYER_CONVERTERS: Record<string, Converter> = {
  Conv: conv,
  ConvTranspose: convTranspose,
  MaxPool: pool('maxPool'),
  AveragePool: pool('avgPool'),
  GlobalAveragePool: globalPool('globalAvgPool'),
  GlobalMaxPool: globalPool('globalMaxPool'),
  Gemm: gemm,
  MatMul: matMul,
  BatchNormalization: batchNorm,
  InstanceNormalization: instanceNorm,
  LRN: lrn,
};
