// One handler per TF op on the activation path of a graph model. Handlers produce the same canonical nodes as the
// Keras converters: a conv/dense carries the bias of a following BiasAdd/Add (and the scale of a following Mul, a
// folded batch norm), fused activations become `${name}/activation` nodes.
import type { ActivationAttrs, Pads4 } from '../../ir';
import type { IrBuilder, NodeOrigin, Padding } from './builder';
import type { Constant } from './constFold';
import { attrBool, attrFloat, attrInt, attrInts, attrString, attrStrings, type GraphNode } from './graphDef';
import { expandedShape, squeezedShape } from './shapeRules';
import type { TfLayout } from './layout';
import type { StoredWeight } from './weights';

/** Thrown by a handler for an op (or op variant) we do not model; the reader turns it into an 'unsupported' node. */
export class NotModelled extends Error {}

export interface OpContext {
  builder: IrBuilder;
  node: GraphNode;
  origin: NodeOrigin;
  /** IR tensor of activation input `i`; NotModelled if it is a constant. */
  input(i: number): string;
  /** IR tensor of input `i` if it is an activation, else undefined. */
  maybeInput(i: number): string | undefined;
  /** Input `i` as a weight; NotModelled if it is not a constant. */
  weight(i: number, role: string): StoredWeight;
  /** Input `i` as a list of integers; NotModelled if it cannot be evaluated. */
  ints(i: number, role: string): number[];
  /** Folds a constant added to (bias) or multiplying (scale) `tensor` into the conv/dense that produced it. */
  foldInto(tensor: string, constant: StoredWeight, kind: 'bias' | 'scale'): boolean;
}

/** Returns the IR tensor of output 0, or a constant (Shape of an activation). */
export type OpHandler = (c: OpContext) => string | Constant;

type ActivationOf = (node: GraphNode, alphaKey: string) => ActivationAttrs;

const ACTIVATIONS: Record<string, ActivationOf> = {
  Relu: () => ({ activation: 'relu' }),
  Relu6: () => ({ activation: 'relu6', min: 0, max: 6 }),
  Elu: () => ({ activation: 'elu', alpha: 1 }),
  Selu: () => ({ activation: 'selu', alpha: 1.6732632423543772, gamma: 1.0507009873554805 }),
  Sigmoid: () => ({ activation: 'sigmoid' }),
  Tanh: () => ({ activation: 'tanh' }),
  Softplus: () => ({ activation: 'softplus' }),
  LeakyRelu: (node, alphaKey) => ({ activation: 'leakyRelu', alpha: attrFloat(node, alphaKey) ?? 0.2 }),
  Prelu: () => ({ activation: 'prelu' }),
};

const convolution =
  (depthwise: boolean): OpHandler =>
  (c) => {
    const filter = c.weight(1, 'filter');
    if (filter.shape.length !== 4) throw new NotModelled(`filter of shape [${filter.shape.join(', ')}] is not 4-D`);
    const [kh, kw, kernelDepth, kernelOut] = filter.shape as [number, number, number, number];
    return inModelLayout(c, c.input(0), (x) => {
      const channels = c.builder.shape(x)[1]!;
      // After an unsupported op the channel count is a guess: the builder takes it from the kernel (groups of 1).
      const guessed = c.builder.isGuessed(x);
      if (!depthwise && !guessed && channels % kernelDepth !== 0) {
        throw c.builder.error('bad-shape', c.origin, `filter depth ${kernelDepth} does not divide the ${channels} input channels`);
      }
      const output = c.builder.conv(c.origin, x, {
        depthwise,
        kernelSize: [kh, kw],
        strides: spatialPair(c, 'strides'),
        dilations: spatialPair(c, 'dilations'),
        padding: paddingOf(c),
        filters: kernelOut,
        groups: depthwise || guessed ? undefined : channels / kernelDepth,
        kernel: filter,
      });
      return applyFusedOps(c, output, 2);
    });
  };

const matMul: OpHandler = (c) => {
  if (attrBool(c.node, 'transpose_a') || attrBool(c.node, 'adj_x')) throw new NotModelled('MatMul with a transposed activation is not supported');
  const x = c.input(0);
  const kernel = c.weight(1, 'kernel');
  const transposed = attrBool(c.node, 'transpose_b') ?? attrBool(c.node, 'adj_y') ?? false;
  if (kernel.shape.length !== 2) throw new NotModelled(`MatMul with a rank-${kernel.shape.length} constant is not supported`);
  const units = transposed ? kernel.shape[0]! : kernel.shape[1]!;
  return applyFusedOps(c, c.builder.dense(c.origin, x, { units, kernel, transposed }), 2);
};

const binary =
  (op: 'add' | 'sub' | 'mul' | 'div'): OpHandler =>
  (c) => {
    const [a, b] = [c.maybeInput(0), c.maybeInput(1)];
    if (a !== undefined && b !== undefined) return c.builder.elementwise(c.origin, op, [a, b]);
    const x = (a ?? b)!;
    const constant = c.weight(a !== undefined ? 1 : 0, 'operand');
    if (op === 'add' && c.foldInto(x, constant, 'bias')) return x;
    if (op === 'mul' && c.foldInto(x, constant, 'scale')) return x;
    return c.builder.withConstant(c.origin, op, x, constant, a === undefined);
  };

const reduceSpatial =
  (kind: 'avg' | 'max'): OpHandler =>
  (c) => {
    const x = c.input(0);
    const rank = c.builder.tfShape(x).length;
    const axes = c
      .ints(1, 'axes')
      .map((a) => (a < 0 ? a + rank : a))
      .sort();
    const spatial = c.builder.layout === 'NHWC' ? '1,2' : '2,3';
    if (rank !== 4 || axes.join() !== spatial) throw new NotModelled(`${c.node.op} over axes [${axes.join(', ')}] is not a global pooling`);
    return c.builder.globalPool(c.origin, x, kind, attrBool(c.node, 'keep_dims') ?? attrBool(c.node, 'keepdims') ?? false);
  };

const pooling =
  (kind: 'max' | 'avg'): OpHandler =>
  (c) =>
    inModelLayout(c, c.input(0), (x) =>
      c.builder.pool(c.origin, x, { kind, kernelSize: spatialPair(c, 'ksize'), strides: spatialPair(c, 'strides'), padding: paddingOf(c) }),
    );

const activation =
  (op: string): OpHandler =>
  (c) =>
    c.builder.activation(c.origin, c.input(0), ACTIVATIONS[op]!(c.node, 'alpha'), op === 'Prelu' ? c.weight(1, 'alpha') : undefined);

const identity: OpHandler = (c) => c.builder.passThrough(c.origin, 'identity', c.input(0));

const batchNorm: OpHandler = (c) =>
  inModelLayout(c, c.input(0), (x) =>
    c.builder.batchNorm(c.origin, x, {
      tfAxis: channelAxis(c),
      epsilon: attrFloat(c.node, 'epsilon') ?? 1e-4,
      trainingMode: attrBool(c.node, 'is_training') ?? true,
      gamma: c.weight(1, 'scale'),
      beta: c.weight(2, 'offset'),
      mean: c.weight(3, 'mean'),
      variance: c.weight(4, 'variance'),
    }),
  );

const pad: OpHandler = (c) => {
  const x = c.input(0);
  const paddings = c.ints(1, 'paddings');
  const tfRank = c.builder.tfShape(x).length;
  if (tfRank !== 4 || paddings.length !== 8) throw new NotModelled(`${c.node.op} of a rank-${tfRank} tensor is not supported`);
  const [batchAxis, channelAxisIndex, hAxis, wAxis] = c.builder.layout === 'NHWC' ? [0, 3, 1, 2] : [0, 1, 2, 3];
  if ([batchAxis, channelAxisIndex].some((axis) => paddings[2 * axis] !== 0 || paddings[2 * axis + 1] !== 0)) {
    throw new NotModelled(`${c.node.op} of the batch or channel axis is not supported`);
  }
  const pads: Pads4 = [paddings[2 * hAxis]!, paddings[2 * wAxis]!, paddings[2 * hAxis + 1]!, paddings[2 * wAxis + 1]!];
  if (c.node.op === 'MirrorPad') {
    if (attrString(c.node, 'mode') !== 'REFLECT') throw new NotModelled(`MirrorPad mode ${attrString(c.node, 'mode')} is not supported`);
    return c.builder.pad(c.origin, x, pads, 'reflect');
  }
  const value = c.node.op === 'PadV2' ? c.ints(2, 'constant_values')[0]! : 0;
  return c.builder.pad(c.origin, x, pads, 'constant', value);
};

/** TF1 control flow: the ops of a while loop's frame (tf.while_loop before TF 2), and of tf.cond (Switch/Merge). */
const CONTROL_FLOW_OPS = ['Enter', 'Exit', 'Merge', 'Switch', 'NextIteration', 'LoopCond', 'RefEnter', 'RefExit', 'RefMerge', 'RefSwitch', 'RefNextIteration'];

const controlFlow: OpHandler = (c) => {
  const frame = attrString(c.node, 'frame_name');
  throw new NotModelled(`TF1 control flow (${c.node.op}${frame ? ` of loop "${frame}"` : ''}) is not analysed`);
};

export const GRAPH_OPS: Record<string, OpHandler> = {
  ...Object.fromEntries(CONTROL_FLOW_OPS.map((op): [string, OpHandler] => [op, controlFlow])),
  Conv2D: convolution(false),
  _FusedConv2D: convolution(false),
  DepthwiseConv2dNative: convolution(true),
  DepthwiseConv2D: convolution(true),
  FusedDepthwiseConv2dNative: convolution(true),
  MatMul: matMul,
  _FusedMatMul: matMul,
  BatchMatMul: matMul,
  BatchMatMulV2: matMul,

  BiasAdd: binary('add'),
  Add: binary('add'),
  AddV2: binary('add'),
  Sub: binary('sub'),
  Mul: binary('mul'),
  RealDiv: binary('div'),
  Div: binary('div'),
  AddN: (c) =>
    c.builder.elementwise(
      c.origin,
      'add',
      c.node.inputs.map((_, i) => c.input(i)),
    ),

  ...Object.fromEntries(Object.keys(ACTIVATIONS).map((op): [string, OpHandler] => [op, activation(op)])),
  Softmax: (c) => c.builder.softmax(c.origin, c.input(0), -1),
  LogSoftmax: (c) => c.builder.softmax(c.origin, c.input(0), -1, true),

  MaxPool: pooling('max'),
  AvgPool: pooling('avg'),
  Mean: reduceSpatial('avg'),
  Max: reduceSpatial('max'),
  FusedBatchNorm: batchNorm,
  FusedBatchNormV2: batchNorm,
  FusedBatchNormV3: batchNorm,
  Pad: pad,
  PadV2: pad,
  MirrorPad: pad,

  Reshape: (c) => c.builder.reshape(c.origin, c.input(0), c.ints(1, 'shape')),
  Squeeze: (c) => {
    const x = c.input(0);
    return c.builder.reshape(
      c.origin,
      x,
      c.builder.shapeRule(c.origin, () => squeezedShape(c.node, c.builder.tfShape(x))),
    );
  },
  ExpandDims: (c) => {
    const x = c.input(0);
    const axis = c.ints(1, 'dim')[0];
    return c.builder.reshape(
      c.origin,
      x,
      c.builder.shapeRule(c.origin, () => expandedShape(c.builder.tfShape(x), axis)),
    );
  },
  Transpose: (c) => c.builder.transpose(c.origin, c.input(0), c.ints(1, 'perm')),
  ConcatV2: (c) => {
    const count = c.node.inputs.length - 1;
    return c.builder.concat(
      c.origin,
      Array.from({ length: count }, (_, i) => c.input(i)),
      c.ints(count, 'axis')[0]!,
    );
  },
  Identity: identity,
  StopGradient: identity,
  Snapshot: identity,
  // A change of number type (the int32 image of some models to float) leaves the values the analysis sees alone.
  Cast: identity,
  // Unpack of a single slice (num = 1) only drops that axis; output 0 of a longer Unpack is one slice of several.
  Unpack: (c) => {
    const x = c.input(0);
    if ((attrInt(c.node, 'num') ?? 0) !== 1) throw new NotModelled(`Unpack into ${attrInt(c.node, 'num') ?? '?'} tensors is not modelled`);
    const shape = c.builder.tfShape(x);
    const axis = attrInt(c.node, 'axis') ?? 0;
    return c.builder.reshape(
      c.origin,
      x,
      shape.filter((_, i) => i !== (axis < 0 ? axis + shape.length : axis)),
    );
  },
  Shape: (c) => {
    const shape = c.builder.tfShape(c.input(0));
    return { shape: [shape.length], values: shape };
  },
};

/**
 * The ops TF (Grappler) or the TF.js converter fused into a _FusedConv2D/_FusedMatMul/FusedDepthwiseConv2dNative,
 * applied in order to `output`. Their constant arguments follow the node's first `argsStart` inputs.
 */
function applyFusedOps(c: OpContext, output: string, argsStart: number): string {
  let result = output;
  let nextArg = argsStart;
  const part = (suffix: string): NodeOrigin => ({ ...c.origin, id: `${c.origin.id}/${suffix}` });
  for (const op of attrStrings(c.node, 'fused_ops') ?? []) {
    if (op === 'BiasAdd') {
      const bias = c.weight(nextArg++, 'bias');
      // `result` is internal to this node, so nothing else reads it: the bias goes straight into its producer.
      const producer = c.builder.producerOf(result);
      if (!producer || !c.builder.foldBias(producer, bias)) result = c.builder.withConstant(part('bias'), 'add', result, bias, false);
    } else if (op === 'FusedBatchNorm') {
      const [scale, offset, mean, variance] = [0, 1, 2, 3].map((k) => c.weight(nextArg + k, 'batch norm parameter'));
      nextArg += 4;
      const epsilon = attrFloat(c.node, 'epsilon') ?? 1e-4;
      result = c.builder.batchNorm(part('batchnorm'), result, {
        tfAxis: channelAxis(c),
        epsilon,
        trainingMode: false,
        gamma: scale,
        beta: offset,
        mean,
        variance,
      });
    } else if (ACTIVATIONS[op]) {
      const slope = op === 'Prelu' ? c.weight(nextArg++, 'alpha') : undefined;
      result = c.builder.activation(part('activation'), result, ACTIVATIONS[op]!(c.node, 'leakyrelu_alpha'), slope);
    } else {
      throw new NotModelled(`fused op "${op}" is not supported`);
    }
  }
  return result;
}

/** The layout of the node's own 4-D tensors: its data_format, NHWC when it has none (TensorFlow's default). */
export function dataFormatOf(node: GraphNode): TfLayout {
  const format = attrString(node, 'data_format') ?? 'NHWC';
  if (format !== 'NHWC' && format !== 'NCHW') throw new NotModelled(`data_format "${format}" is not supported`);
  return format;
}

/**
 * Runs `op` on `x` in the model's layout. A node whose data_format differs from the model's (an NCHW conv in an NHWC
 * graph, or a MaxPool without data_format in an NCHW one) reads and writes its tensors in its own layout, so its
 * input is transposed into the model's layout first and its output back: both transposes are nodes of the graph.
 */
function inModelLayout(c: OpContext, x: string, op: (x: string) => string): string {
  const format = dataFormatOf(c.node);
  if (format === c.builder.layout) return op(x);
  const [toModel, back] = format === 'NCHW' ? [NCHW_TO_NHWC, NHWC_TO_NCHW] : [NHWC_TO_NCHW, NCHW_TO_NHWC];
  const part = (suffix: string): NodeOrigin => ({ ...c.origin, id: `${c.origin.id}/${suffix}`, sourceOp: 'Transpose' });
  const inside = c.builder.transpose(part(`to_${c.builder.layout}`), x, toModel);
  return c.builder.transpose(part(`to_${format}`), op(inside), back);
}

const NCHW_TO_NHWC = [0, 2, 3, 1];
const NHWC_TO_NCHW = [0, 3, 1, 2];

/** [H, W] entries of a 4-element attr list (strides, dilations, ksize) in the node's data_format; [1, 1] when absent. */
function spatialPair(c: OpContext, key: string): [number, number] {
  const list = attrInts(c.node, key);
  if (!list || list.length === 0) return [1, 1];
  if (list.length !== 4 || !list.every((v) => v > 0)) throw c.builder.error('invalid-model', c.origin, `"${key}" must list 4 positive integers`);
  return dataFormatOf(c.node) === 'NHWC' ? [list[1]!, list[2]!] : [list[2]!, list[3]!];
}

function paddingOf(c: OpContext): Padding {
  const padding = attrString(c.node, 'padding');
  if (padding === 'SAME') return 'same';
  if (padding === 'VALID') return 'valid';
  if (padding === 'EXPLICIT') {
    const list = attrInts(c.node, 'explicit_paddings') ?? [];
    if (list.length !== 8) throw c.builder.error('invalid-model', c.origin, '"explicit_paddings" must list 8 integers');
    // [before, after] per dimension, in the node's data_format order.
    const [hAxis, wAxis] = dataFormatOf(c.node) === 'NHWC' ? [1, 2] : [2, 3];
    return [list[2 * hAxis]!, list[2 * wAxis]!, list[2 * hAxis + 1]!, list[2 * wAxis + 1]!];
  }
  throw c.builder.error('invalid-model', c.origin, `padding "${padding ?? ''}" is not SAME, VALID or EXPLICIT`);
}

/** The TF channel axis of a normalisation's input, which inModelLayout has put in the model's layout. */
function channelAxis(c: OpContext): number {
  return c.builder.layout === 'NHWC' ? -1 : 1;
}
