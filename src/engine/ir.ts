// The layer graph: one typed, format-neutral view of a model, shared by every reader and by the analysis.
// Conventions (docs/algorithm.md §1): activations are NCHW, conv kernels OIHW, dense kernels [out, in].
// Readers convert TF.js NHWC/HWIO layouts at load time so that analysis never sees a format difference.

/** A tensor shape; every dimension is resolved to a positive integer before a graph leaves a reader. */
export type Shape = number[];

export type ModelFormat = 'onnx' | 'tfjs-layers' | 'tfjs-graph';

/** Element-wise activations, with the parameters that matter for inversion (docs/algorithm.md §3.3). */
export type ActivationKind =
  | 'relu'
  | 'leakyRelu'
  | 'prelu'
  | 'sigmoid'
  | 'tanh'
  | 'softplus'
  | 'clip'
  | 'relu6'
  | 'elu'
  | 'selu'
  | 'hardSigmoid'
  | 'hardSwish'
  | 'gelu'
  | 'mish'
  | 'silu'
  | 'linear';

export type OpKind =
  | 'conv'
  | 'convTranspose'
  | 'dense'
  | 'activation'
  | 'softmax'
  | 'logSoftmax'
  | 'maxPool'
  | 'avgPool'
  | 'globalAvgPool'
  | 'globalMaxPool'
  | 'batchNorm'
  | 'instanceNorm'
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'concat'
  | 'flatten'
  | 'reshape'
  | 'transpose'
  | 'pad'
  | 'dropout'
  | 'identity'
  | 'unsupported';

/** Explicit zero padding [top, left, bottom, right]; `same` padding is resolved by the reader. */
export type Pads4 = [number, number, number, number];

export interface ConvAttrs {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  pads: Pads4;
  groups: number;
  /** Output channels (= kernel dim 0 for conv; = kernel dim 1 × groups for convTranspose). */
  outChannels: number;
  /** convTranspose only: extra size added to one side of the output. */
  outputPadding?: [number, number];
}

export interface PoolAttrs {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  pads: Pads4;
  ceilMode: boolean;
  /** AveragePool: whether padded zeros count in the divisor. */
  countIncludePad: boolean;
}

export interface ActivationAttrs {
  activation: ActivationKind;
  /** leakyRelu/elu/selu alpha, hardSigmoid alpha; clip min. */
  alpha?: number;
  /** hardSigmoid beta; selu gamma. */
  beta?: number;
  gamma?: number;
  /** clip bounds (relu6 is clip 0..6). */
  min?: number;
  max?: number;
}

export interface DenseAttrs {
  inFeatures: number;
  outFeatures: number;
}

export interface NormAttrs {
  epsilon: number;
  /** true when the file says the layer normalises with batch statistics (training mode). */
  trainingMode: boolean;
}

export interface AxisAttrs {
  axis: number;
}

export interface TransposeAttrs {
  perm: number[];
}

export interface PadAttrs {
  pads: Pads4;
  mode: 'constant' | 'reflect' | 'edge';
  value: number;
}

export type NodeAttrs =
  | ({ kind: 'conv' } & ConvAttrs)
  | ({ kind: 'pool' } & PoolAttrs)
  | ({ kind: 'activation' } & ActivationAttrs)
  | ({ kind: 'dense' } & DenseAttrs)
  | ({ kind: 'norm' } & NormAttrs)
  | ({ kind: 'axis' } & AxisAttrs)
  | ({ kind: 'transpose' } & TransposeAttrs)
  | ({ kind: 'pad' } & PadAttrs)
  | { kind: 'none' };

/**
 * A weight tensor whose values stay in the file buffer until asked for: parsing a model never copies every weight.
 * `load()` returns the values converted to float64 in the engine's layout (OIHW, [out, in]).
 */
export interface WeightTensor {
  name: string;
  shape: Shape;
  /** Storage type in the file (e.g. float32, float16, uint8-quantized). */
  storage: string;
  /** Files other than the model file its bytes come from (TF.js shards, ONNX external data), absolute paths. */
  files?: readonly string[];
  /** Every entry is one value, filled in rather than stored (ONNX ConstantOfShape): a placeholder, not trained weights. */
  uniform?: boolean;
  load(): Float64Array;
}

/** Named parameters of a node. Conv/dense: kernel, bias. Norm: scale, bias, mean, variance. PRelu: slope. */
export type NodeWeights = Partial<Record<'kernel' | 'bias' | 'scale' | 'mean' | 'variance' | 'slope' | 'operand', WeightTensor>>;

/** Where a node comes from, so that diagnostics can point at it. */
export type SourceLocation =
  | {
      format: 'onnx';
      /** Index of the node in the graph's node list (top-level graph) or a path like "3/then_branch/7". */
      nodeIndex: number;
      nodeName: string;
      graphPath?: string;
    }
  | {
      format: 'json';
      /** Byte offsets (UTF-16 code unit offsets of the decoded text) of the layer/node object in model.json. */
      offset: number;
      length: number;
      /** JSON path to the object, e.g. ["modelTopology", "model_config", "config", "layers", 3]. */
      jsonPath: (string | number)[];
      /** The same span as lines and columns, so that nobody has to read the file again to place it. */
      range: TextRange;
      /** The span to point at: the layer's name value (or its class name) inside the object. */
      focus?: TextRange & { offset: number; length: number };
    };

/** 0-based line and UTF-16 column (as in LSP and VS Code); `end` is just past the last character. */
export interface TextPosition {
  line: number;
  character: number;
}

export interface TextRange {
  start: TextPosition;
  end: TextPosition;
}

export type NodeStatus = 'ok' | 'unsupported';

export interface LayerNode {
  /** Unique within the graph and stable across runs (the original node/layer name, made unique if needed). */
  id: string;
  /** Name as written in the file. */
  name: string;
  op: OpKind;
  /** Operator/class name as written in the file (e.g. "Conv", "_FusedConv2D", "Conv2D"). */
  sourceOp: string;
  /** Names of the activation tensors this node reads (weights excluded). */
  inputs: string[];
  outputs: string[];
  inputShapes: Shape[];
  outputShapes: Shape[];
  attrs: NodeAttrs;
  weights: NodeWeights;
  location: SourceLocation;
  status: NodeStatus;
  /** For unsupported nodes or partially understood ones: why, in one line. */
  note?: string;
}

export interface TensorInfo {
  name: string;
  shape: Shape;
}

export interface LayerGraph {
  format: ModelFormat;
  /** Absolute path of the model file that was read (the .onnx or model.json). */
  file: string;
  /** Producer/version information, for reports. */
  producer?: string;
  opset?: number;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** Nodes in topological order. */
  nodes: LayerNode[];
  /** Things the reader noticed but could work around (dynamic dims defaulted, ignored subgraphs, ...). */
  warnings: string[];
}

/** Number of elements of a shape. */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Parameter count of a node (all its weight tensors). */
export function parameterCount(node: LayerNode): number {
  let n = 0;
  for (const w of Object.values(node.weights)) if (w) n += sizeOf(w.shape);
  return n;
}

export function convAttrs(node: LayerNode): ConvAttrs {
  if (node.attrs.kind !== 'conv') throw new Error(`node ${node.id} has no convolution attributes`);
  return node.attrs;
}
