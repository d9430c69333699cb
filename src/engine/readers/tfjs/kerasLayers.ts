// One converter per Keras layer class: reads the layer config, asks the builder for the canonical IR nodes.
// A layer's `activation` becomes its own node `${id}/activation`, as in the graph-model and ONNX readers.
import type { ActivationAttrs, Pads4 } from '../../ir';
import type { IrBuilder, NodeOrigin, Padding } from './builder';
import { isObject, type JsonObject } from './json';
import type { StoredWeight } from './weights';

/** One call of a Keras layer. */
export interface KerasCall {
  builder: IrBuilder;
  origin: NodeOrigin;
  config: JsonObject;
  /** IR tensors the call reads. */
  inputs: string[];
  /** The layer's weight `param` ("kernel", "bias", ...); undefined only when the model carries no weights. */
  weight(param: string): StoredWeight | undefined;
}

type Converter = (call: KerasCall) => string;

/** Keras activation names; null = linear (no node). */
const ACTIVATIONS: Record<string, ActivationAttrs | 'softmax' | 'logSoftmax' | null> = {
  linear: null,
  relu: { activation: 'relu' },
  relu6: { activation: 'relu6', min: 0, max: 6 },
  leaky_relu: { activation: 'leakyRelu', alpha: 0.2 },
  elu: { activation: 'elu', alpha: 1 },
  selu: { activation: 'selu', alpha: 1.6732632423543772, gamma: 1.0507009873554805 },
  sigmoid: { activation: 'sigmoid' },
  hard_sigmoid: { activation: 'hardSigmoid', alpha: 0.2, beta: 0.5 },
  tanh: { activation: 'tanh' },
  softplus: { activation: 'softplus' },
  swish: { activation: 'silu' },
  silu: { activation: 'silu' },
  hard_swish: { activation: 'hardSwish' },
  hard_silu: { activation: 'hardSwish' },
  gelu: { activation: 'gelu' },
  mish: { activation: 'mish' },
  softmax: 'softmax',
  log_softmax: 'logSoftmax',
};

const DROPOUT_LIKE = ['Dropout', 'SpatialDropout2D', 'GaussianDropout', 'GaussianNoise', 'AlphaDropout'];

export const KERAS_LAYERS: Record<string, Converter> = {
  Conv2D: (c) =>
    withActivation(
      c,
      c.builder.conv(c.origin, c.inputs[0]!, {
        depthwise: false,
        ...windowConfig(c, 'kernel_size'),
        dilations: intPair(c, 'dilation_rate', 1),
        filters: positiveInt(c, 'filters'),
        groups: positiveInt(c, 'groups', 1),
        kernel: c.weight('kernel'),
        bias: useBias(c) ? c.weight('bias') : undefined,
      }),
    ),

  DepthwiseConv2D: (c) =>
    withActivation(
      c,
      c.builder.conv(c.origin, c.inputs[0]!, {
        depthwise: true,
        ...windowConfig(c, 'kernel_size'),
        dilations: intPair(c, 'dilation_rate', 1),
        filters: positiveInt(c, 'depth_multiplier', 1),
        kernel: c.weight('depthwise_kernel'),
        bias: useBias(c) ? c.weight('bias') : undefined,
      }),
    ),

  /** Depthwise conv then a pointwise 1x1 conv (which carries the bias), as two nodes. */
  SeparableConv2D: (c) => {
    const depthwise = c.builder.conv({ ...c.origin, id: `${c.origin.id}/depthwise` }, c.inputs[0]!, {
      depthwise: true,
      ...windowConfig(c, 'kernel_size'),
      dilations: intPair(c, 'dilation_rate', 1),
      filters: positiveInt(c, 'depth_multiplier', 1),
      kernel: c.weight('depthwise_kernel'),
    });
    const pointwise = c.builder.conv({ ...c.origin, id: `${c.origin.id}/pointwise` }, depthwise, {
      depthwise: false,
      kernelSize: [1, 1],
      strides: [1, 1],
      dilations: [1, 1],
      padding: 'valid',
      filters: positiveInt(c, 'filters'),
      kernel: c.weight('pointwise_kernel'),
      bias: useBias(c) ? c.weight('bias') : undefined,
    });
    return withActivation(c, pointwise);
  },

  Dense: (c) =>
    withActivation(
      c,
      c.builder.dense(c.origin, c.inputs[0]!, {
        units: positiveInt(c, 'units'),
        kernel: c.weight('kernel'),
        bias: useBias(c) ? c.weight('bias') : undefined,
      }),
    ),

  Activation: (c) => activationNode(c, c.origin, c.inputs[0]!, c.config.activation),

  ReLU: (c) => {
    const maxValue = optionalNumber(c, 'max_value');
    const slope = optionalNumber(c, 'negative_slope') ?? 0;
    if ((optionalNumber(c, 'threshold') ?? 0) !== 0) return unsupported(c, 'ReLU with a non-zero threshold is not supported');
    if (maxValue === undefined) {
      return c.builder.activation(c.origin, c.inputs[0]!, slope === 0 ? { activation: 'relu' } : { activation: 'leakyRelu', alpha: slope });
    }
    if (slope !== 0) return unsupported(c, 'ReLU with both a max value and a negative slope is not supported');
    const attrs: ActivationAttrs = maxValue === 6 ? { activation: 'relu6', min: 0, max: 6 } : { activation: 'clip', min: 0, max: maxValue };
    return c.builder.activation(c.origin, c.inputs[0]!, attrs);
  },

  // Keras 2 calls the slope alpha (default 0.3); Keras 3 negative_slope.
  LeakyReLU: (c) =>
    c.builder.activation(c.origin, c.inputs[0]!, { activation: 'leakyRelu', alpha: optionalNumber(c, 'alpha') ?? optionalNumber(c, 'negative_slope') ?? 0.3 }),

  PReLU: (c) => c.builder.activation(c.origin, c.inputs[0]!, { activation: 'prelu' }, c.weight('alpha')),

  ELU: (c) => c.builder.activation(c.origin, c.inputs[0]!, { activation: 'elu', alpha: optionalNumber(c, 'alpha') ?? 1 }),

  Softmax: (c) => c.builder.softmax(c.origin, c.inputs[0]!, axisOf(c, -1)),

  BatchNormalization: (c) => {
    const center = c.config.center !== false;
    const scale = c.config.scale !== false;
    return c.builder.batchNorm(c.origin, c.inputs[0]!, {
      tfAxis: axisOf(c, -1),
      epsilon: optionalNumber(c, 'epsilon') ?? 1e-3,
      trainingMode: false,
      gamma: scale ? c.weight('gamma') : 1,
      beta: center ? c.weight('beta') : 0,
      mean: c.weight('moving_mean'),
      variance: c.weight('moving_variance'),
    });
  },

  MaxPooling2D: (c) => c.builder.pool(c.origin, c.inputs[0]!, { kind: 'max', ...windowConfig(c, 'pool_size') }),
  AveragePooling2D: (c) => c.builder.pool(c.origin, c.inputs[0]!, { kind: 'avg', ...windowConfig(c, 'pool_size') }),
  GlobalAveragePooling2D: (c) => c.builder.globalPool(c.origin, c.inputs[0]!, 'avg', c.config.keepdims === true),
  GlobalMaxPooling2D: (c) => c.builder.globalPool(c.origin, c.inputs[0]!, 'max', c.config.keepdims === true),

  Flatten: (c) => c.builder.flatten(c.origin, c.inputs[0]!),

  Reshape: (c) => {
    const target = c.config.target_shape;
    if (!Array.isArray(target) || !target.every((d) => Number.isSafeInteger(d))) {
      throw c.builder.error('invalid-model', c.origin, '"target_shape" must be a list of integers');
    }
    const batch = c.builder.tfShape(c.inputs[0]!)[0]!;
    return c.builder.reshape(c.origin, c.inputs[0]!, [batch, ...(target as number[])]);
  },

  // Keras dims are 1-based and leave the batch axis out.
  Permute: (c) => {
    const dims = c.config.dims;
    if (!Array.isArray(dims) || !dims.every((d) => Number.isSafeInteger(d))) {
      throw c.builder.error('invalid-model', c.origin, '"dims" must be a list of integers');
    }
    return c.builder.transpose(c.origin, c.inputs[0]!, [0, ...(dims as number[])]);
  },

  ...Object.fromEntries(DROPOUT_LIKE.map((name): [string, Converter] => [name, (c) => c.builder.passThrough(c.origin, 'dropout', c.inputs[0]!)])),

  Add: (c) => c.builder.elementwise(c.origin, 'add', c.inputs),
  Subtract: (c) => c.builder.elementwise(c.origin, 'sub', c.inputs),
  Multiply: (c) => c.builder.elementwise(c.origin, 'mul', c.inputs),
  Concatenate: (c) => c.builder.concat(c.origin, c.inputs, axisOf(c, -1)),

  ZeroPadding2D: (c) => c.builder.pad(c.origin, c.inputs[0]!, zeroPadding(c), 'constant', 0),
};

// Keras aliases.
KERAS_LAYERS.Convolution2D = KERAS_LAYERS.Conv2D!;
KERAS_LAYERS.MaxPool2D = KERAS_LAYERS.MaxPooling2D!;
KERAS_LAYERS.AvgPool2D = KERAS_LAYERS.AveragePooling2D!;
KERAS_LAYERS.GlobalAvgPool2D = KERAS_LAYERS.GlobalAveragePooling2D!;
KERAS_LAYERS.GlobalMaxPool2D = KERAS_LAYERS.GlobalMaxPooling2D!;

/** Converts one call; classes without a converter become 'unsupported' nodes, never dropped. */
export function convertKerasCall(className: string, call: KerasCall): string {
  const converter = KERAS_LAYERS[className];
  if (call.inputs.length === 0) return unsupported(call, `Keras layer "${className}" has no inputs`);
  return converter ? converter(call) : unsupported(call, `Keras layer "${className}" is not supported`);
}

function withActivation(c: KerasCall, output: string): string {
  return activationNode(c, { ...c.origin, id: `${c.origin.id}/activation` }, output, c.config.activation);
}

function activationNode(c: KerasCall, origin: NodeOrigin, input: string, spec: unknown): string {
  const name = activationName(spec);
  const attrs = ACTIVATIONS[name];
  if (attrs === null) return input;
  if (attrs === undefined) return c.builder.unsupported(origin, [input], `activation "${name}" is not supported`);
  if (attrs === 'softmax' || attrs === 'logSoftmax') return c.builder.softmax(origin, input, -1, attrs === 'logSoftmax');
  return c.builder.activation(origin, input, attrs);
}

/** 'relu', or Keras 3's {"class_name": "function", "config": "relu"} / {"class_name": "ReLU"} forms. */
function activationName(spec: unknown): string {
  if (spec === undefined || spec === null) return 'linear';
  if (typeof spec === 'string') return spec.toLowerCase();
  if (isObject(spec)) {
    if (typeof spec.config === 'string') return spec.config.toLowerCase();
    if (typeof spec.class_name === 'string') return spec.class_name.replace(/(?<=[a-z])(?=[A-Z])/g, '_').toLowerCase();
  }
  return String(spec);
}

function unsupported(c: KerasCall, note: string): string {
  return c.builder.unsupported(c.origin, c.inputs, note);
}

function useBias(c: KerasCall): boolean {
  return c.config.use_bias !== false;
}

/** kernel/pool size, strides (defaulting to the pool size for pooling) and padding. */
function windowConfig(c: KerasCall, sizeKey: 'kernel_size' | 'pool_size'): { kernelSize: [number, number]; strides: [number, number]; padding: Padding } {
  const kernelSize = intPair(c, sizeKey, sizeKey === 'pool_size' ? 2 : undefined);
  // Keras pooling writes strides: null to mean "the pool size".
  const strides = intPair(c, 'strides', sizeKey === 'pool_size' ? kernelSize : 1);
  return { kernelSize, strides, padding: paddingOf(c) };
}

function paddingOf(c: KerasCall): Padding {
  const padding = c.config.padding ?? 'valid';
  if (padding === 'same' || padding === 'valid') return padding;
  throw c.builder.error('invalid-model', c.origin, `padding "${String(padding)}" is not supported for a 2-D layer`);
}

function intPair(c: KerasCall, key: string, fallback?: number | [number, number]): [number, number] {
  const value = c.config[key] ?? fallback;
  if (isPositiveInt(value)) return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every(isPositiveInt)) return [value[0], value[1]];
  throw c.builder.error('invalid-model', c.origin, `"${key}" must be a positive integer or a pair of them`);
}

function positiveInt(c: KerasCall, key: string, fallback?: number): number {
  const value = c.config[key] ?? fallback;
  if (isPositiveInt(value)) return value;
  throw c.builder.error('invalid-model', c.origin, `"${key}" must be a positive integer`);
}

function optionalNumber(c: KerasCall, key: string): number | undefined {
  const value = c.config[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw c.builder.error('invalid-model', c.origin, `"${key}" must be a number`);
}

/** Keras `axis`, an integer or a one-element list (BatchNormalization). */
function axisOf(c: KerasCall, fallback: number): number {
  const raw = c.config.axis ?? fallback;
  const axis = Array.isArray(raw) && raw.length === 1 ? raw[0] : raw;
  if (Number.isSafeInteger(axis)) return axis as number;
  throw c.builder.error('invalid-model', c.origin, '"axis" must be an integer');
}

/** ZeroPadding2D padding: n, [h, w], or [[top, bottom], [left, right]] → [top, left, bottom, right]. */
function zeroPadding(c: KerasCall): Pads4 {
  const raw = c.config.padding ?? 1;
  const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (isCount(raw)) return [raw, raw, raw, raw];
  if (Array.isArray(raw) && raw.length === 2) {
    const [vertical, horizontal] = raw;
    if (isCount(vertical) && isCount(horizontal)) return [vertical, horizontal, vertical, horizontal];
    const isPair = (v: unknown): v is [number, number] => Array.isArray(v) && v.length === 2 && v.every(isCount);
    if (isPair(vertical) && isPair(horizontal)) {
      return [vertical[0], horizontal[0], vertical[1], horizontal[1]];
    }
  }
  throw c.builder.error('invalid-model', c.origin, `padding ${JSON.stringify(raw)} is not a valid 2-D zero padding`);
}

function isPositiveInt(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}
