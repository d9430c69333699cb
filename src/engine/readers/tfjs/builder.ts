// Builds the layer graph for both TF.js formats, so that a Keras layer and the GraphDef ops it was converted to
// give the same nodes: conv/dense with their bias, then a separate activation node; NCHW shapes; OIHW kernels.
// Readers hand over TF-layout shapes and stored weights; the builder converts, computes and checks every shape.
import { ModelReadError, type ReadErrorCode } from '../../errors';
import type {
  ActivationAttrs,
  LayerGraph,
  LayerNode,
  ModelFormat,
  NodeAttrs,
  NodeWeights,
  OpKind,
  Pads4,
  Shape,
  SourceLocation,
  TensorInfo,
  WeightTensor,
} from '../../ir';
import { inputShapeFor, namedInputs, type ResolvedReadOptions } from '../../options';
import { assumedImageShape, type ImageSizeHint } from '../imageInput';
import { samePads2d, windowOutput2d } from '../../shapes';
import { formatJsonPath } from './json';
import { broadcastShapes, reshapeTarget, ShapeMismatch } from './shapeRules';
import {
  broadcastOperand,
  channelVector,
  convKernel,
  denseKernel,
  depthwiseKernel,
  filledWeight,
  irPermutation,
  scaledKernel,
  toIrAxis,
  toIrShape,
  toTfShape,
  type TfLayout,
} from './layout';
import type { StoredWeight } from './weights';

/** Where a node comes from: its id (made unique here), its name and op in the file, and its JSON object. */
export interface NodeOrigin {
  id: string;
  name: string;
  sourceOp: string;
  location: SourceLocation;
}

export type Padding = 'same' | 'valid' | Pads4;

export interface ConvSpec {
  depthwise: boolean;
  kernelSize: [number, number];
  strides: [number, number];
  dilations: [number, number];
  padding: Padding;
  /** Regular conv: output channels; depthwise: the depth multiplier. */
  filters: number;
  /** Regular conv only (Keras `groups`, or input depth / kernel depth in a GraphDef). */
  groups?: number | undefined;
  /** TF layout: [kh, kw, in/groups, out], or [kh, kw, C, mult] for depthwise. */
  kernel?: StoredWeight | undefined;
  bias?: StoredWeight | undefined;
}

export interface DenseSpec {
  units: number;
  /** [in, out], or [out, in] when `transposed` (MatMul transpose_b). */
  kernel?: StoredWeight | undefined;
  transposed?: boolean;
  bias?: StoredWeight | undefined;
}

export interface PoolSpec {
  kind: 'max' | 'avg';
  kernelSize: [number, number];
  strides: [number, number];
  padding: Padding;
}

/** A BN parameter: a stored vector, or a constant the file leaves implicit (Keras center/scale = false). */
export type NormParameter = StoredWeight | number | undefined;

export interface BatchNormSpec {
  /** TF axis normalised over (the channel axis for a supported BN). */
  tfAxis: number;
  epsilon: number;
  trainingMode: boolean;
  gamma: NormParameter;
  beta: NormParameter;
  mean: NormParameter;
  variance: NormParameter;
}

interface TensorMeta {
  shape: Shape;
  /** [H, W, C] when TF flattened an NHWC map into this tensor in (h, w, c) order; the engine holds (c, h, w). */
  flattenedFrom?: [number, number, number];
  /** The shape was assumed (after an unsupported op), not derived. */
  guessed?: boolean;
}

interface EmitOptions {
  weights?: NodeWeights;
  status?: 'ok' | 'unsupported';
  note?: string | undefined;
  /** Element-wise in the flattened feature order: a TF (h, w, c) flatten order passes through. */
  keepsOrder?: boolean;
  /** Handles a TF-flattened input itself (Dense re-orders its kernel; a reshape back to the map undoes it). */
  consumesFlatten?: boolean;
  /** The shape the node reads, when it corrects a guessed input shape (a conv after an unsupported op). */
  inputShape?: Shape | undefined;
}

export class IrBuilder {
  readonly warnings: string[] = [];
  /** An image size from the model's metadata, for inputs with a dynamic height and width. */
  imageHint: ImageSizeHint | undefined;
  /** Set when an input's image size was assumed: shape errors say so. */
  private assumedImage: string | undefined;
  private readonly nodes: LayerNode[] = [];
  private readonly inputs: TensorInfo[] = [];
  private readonly tensors = new Map<string, TensorMeta>();
  private readonly producers = new Map<string, LayerNode>();
  private readonly ids = new Set<string>();
  /** Next "_k" suffix to try for each id base that collided. */
  private readonly nextSuffix = new Map<string, number>();

  constructor(
    readonly file: string,
    readonly opts: ResolvedReadOptions,
    readonly layout: TfLayout,
  ) {}

  // ---- tensors -------------------------------------------------------------------------------------------------

  /**
   * Declares a model input. `declared` is the file's TF-layout shape (null for dynamic dims, undefined if the file
   * gives none); opts.inputShape (TF layout) fills dynamic dims, else a dynamic batch becomes 1 with a warning.
   */
  input(name: string, declared: (number | null)[] | undefined, where: string): string {
    const tfShape = this.resolveInputShape(name, declared, where);
    const id = this.uniqueId(name);
    const shape = this.checkShape(toIrShape(tfShape, this.layout), where);
    this.tensors.set(id, { shape });
    this.inputs.push({ name: id, shape });
    return id;
  }

  /** Engine (NCHW) shape. */
  shape(tensor: string): Shape {
    return this.meta(tensor).shape;
  }

  /** The same tensor's shape as TF sees it. */
  tfShape(tensor: string): Shape {
    return toTfShape(this.shape(tensor), this.layout);
  }

  producerOf(tensor: string): LayerNode | undefined {
    return this.producers.get(tensor);
  }

  // ---- parametric layers ---------------------------------------------------------------------------------------

  conv(origin: NodeOrigin, input: string, spec: ConvSpec): string {
    const [n, inputChannels, h, w] = this.spatialInput(origin, input);
    const channels = this.kernelChannels(origin, input, spec) ?? inputChannels;
    const groups = spec.depthwise ? channels : (spec.groups ?? 1);
    const outChannels = spec.depthwise ? channels * spec.filters : spec.filters;
    if (channels % groups !== 0 || outChannels % groups !== 0) {
      throw this.error('bad-shape', origin, `${groups} groups do not divide ${channels} input and ${outChannels} output channels`);
    }
    const [kh, kw] = spec.kernelSize;
    const expectedKernel = spec.depthwise ? [kh, kw, channels, spec.filters] : [kh, kw, channels / groups, outChannels];
    const weights: NodeWeights = {};
    if (spec.kernel) {
      this.expectShape(origin, spec.kernel, expectedKernel);
      weights.kernel = spec.depthwise ? depthwiseKernel(spec.kernel) : convKernel(spec.kernel);
    }
    if (spec.bias) weights.bias = this.channelWeight(origin, spec.bias, outChannels);
    const pads = this.resolvePadding(spec.padding, [h, w], spec.kernelSize, spec.strides, spec.dilations);
    const [oh, ow] = windowOutput2d([h, w], spec.kernelSize, spec.strides, spec.dilations, pads);
    if (oh < 1 || ow < 1) throw this.error('bad-shape', origin, `a ${kh}x${kw} window does not fit the ${h}x${w} input`);
    const attrs: NodeAttrs = { kind: 'conv', kernel: [kh, kw], strides: spec.strides, dilations: spec.dilations, pads, groups, outChannels };
    const inputShape = channels === inputChannels ? undefined : [n, channels, h, w];
    return this.emit(origin, 'conv', [input], [n, outChannels, oh, ow], attrs, { weights, inputShape });
  }

  /**
   * After an unsupported op the input shape is a guess (its input's shape); a conv's kernel then says how many
   * channels it really reads. Undefined when the input is not guessed or the kernel agrees.
   */
  private kernelChannels(origin: NodeOrigin, input: string, spec: ConvSpec): number | undefined {
    const kernel = spec.kernel?.shape;
    if (!this.meta(input).guessed || kernel?.length !== 4) return undefined;
    const channels = spec.depthwise ? kernel[2]! : kernel[2]! * (spec.groups ?? 1);
    if (channels === this.shape(input)[1]) return undefined;
    this.warn(origin, `input shape after an unsupported op was guessed; using the kernel's ${channels} input channels`);
    return channels;
  }

  dense(origin: NodeOrigin, input: string, spec: DenseSpec): string {
    const meta = this.meta(input);
    if (meta.shape.length !== 2) {
      return this.unsupported(origin, [input], `dense layer on a rank-${meta.shape.length} input is not supported`);
    }
    let inFeatures = meta.shape[1]!;
    const weights: NodeWeights = {};
    if (spec.kernel) {
      const [rows, cols] = spec.kernel.shape;
      const kernelIn = spec.transposed ? cols : rows;
      if (spec.kernel.shape.length !== 2 || kernelIn === undefined || (spec.transposed ? rows : cols) !== spec.units) {
        throw this.error('bad-weights', origin, `kernel "${spec.kernel.name}" has shape ${fmt(spec.kernel.shape)}, expected [in, ${spec.units}]`);
      }
      if (kernelIn !== inFeatures) {
        if (!meta.guessed) throw this.error('bad-shape', origin, `kernel expects ${kernelIn} input features but the input has ${inFeatures}`);
        this.warn(origin, `input shape after an unsupported op was guessed; using the kernel's ${kernelIn} input features`);
        inFeatures = kernelIn;
      }
      weights.kernel = denseKernel(spec.kernel, spec.transposed ?? false, meta.guessed ? undefined : meta.flattenedFrom);
    }
    if (spec.bias) weights.bias = this.channelWeight(origin, spec.bias, spec.units);
    const attrs: NodeAttrs = { kind: 'dense', inFeatures, outFeatures: spec.units };
    const note = weights.kernel && meta.flattenedFrom && !meta.guessed ? "kernel columns re-ordered from TF's (h, w, c) flatten order" : undefined;
    return this.emit(origin, 'dense', [input], [meta.shape[0]!, spec.units], attrs, { weights, note, consumesFlatten: true });
  }

  /** Adds `bias` (an Add/BiasAdd after a conv or dense) to `node` if it has none; false if it cannot. */
  foldBias(node: LayerNode, bias: StoredWeight, foldedName?: string): boolean {
    if ((node.op !== 'conv' && node.op !== 'dense') || node.weights.bias) return false;
    const weight = channelVector(bias, outFeaturesOf(node));
    if (!weight) return false;
    node.weights.bias = weight;
    if (foldedName) addNote(node, `bias from "${foldedName}"`);
    return true;
  }

  /** Multiplies `node`'s kernel by a per-output-channel constant (a Mul after it, typically a folded BN scale). */
  foldScale(node: LayerNode, scale: StoredWeight, foldedName: string): boolean {
    if ((node.op !== 'conv' && node.op !== 'dense') || node.weights.bias || !node.weights.kernel) return false;
    const factors = channelVector(scale, outFeaturesOf(node));
    if (!factors) return false;
    node.weights.kernel = scaledKernel(node.weights.kernel, factors);
    addNote(node, `kernel scaled by "${foldedName}"`);
    return true;
  }

  // ---- element-wise --------------------------------------------------------------------------------------------

  activation(origin: NodeOrigin, input: string, attrs: ActivationAttrs, slope?: StoredWeight): string {
    const weights: NodeWeights = {};
    if (slope) weights.slope = this.slopeWeight(origin, input, slope);
    return this.emit(origin, 'activation', [input], this.shape(input), { kind: 'activation', ...attrs }, { weights, keepsOrder: true });
  }

  softmax(origin: NodeOrigin, input: string, tfAxis: number, log = false): string {
    const rank = this.shape(input).length;
    const axis = toIrAxis(tfAxis, rank, this.layout);
    return this.emit(origin, log ? 'logSoftmax' : 'softmax', [input], this.shape(input), { kind: 'axis', axis });
  }

  /** Dropout (identity at inference) or Identity. */
  passThrough(origin: NodeOrigin, op: 'dropout' | 'identity', input: string): string {
    return this.emit(origin, op, [input], this.shape(input), { kind: 'none' }, { keepsOrder: true });
  }

  /** add/sub/mul/div of activations, with TF broadcasting. */
  elementwise(origin: NodeOrigin, op: 'add' | 'sub' | 'mul' | 'div', inputs: string[]): string {
    const tfShape = this.shapeRule(origin, () => broadcastShapes(inputs.map((t) => this.tfShape(t))));
    const flattenedFrom = inputs.map((t) => this.meta(t).flattenedFrom?.join('x')).filter((f) => f !== undefined);
    const sameOrder = flattenedFrom.length === 0 || (flattenedFrom.length === inputs.length && new Set(flattenedFrom).size === 1);
    return this.emit(origin, op, inputs, toIrShape(tfShape, this.layout), { kind: 'none' }, { keepsOrder: sameOrder });
  }

  /** add/sub/mul/div of an activation and a constant (the constant is the `operand` weight). */
  withConstant(origin: NodeOrigin, op: 'add' | 'sub' | 'mul' | 'div', input: string, constant: StoredWeight, constantFirst: boolean): string {
    const inputShape = this.tfShape(input);
    const tfShape = this.shapeRule(origin, () => broadcastShapes([inputShape, constant.shape]));
    const operand = broadcastOperand(constant, tfShape.length, this.layout);
    const note = constantFirst && (op === 'sub' || op === 'div') ? 'the constant is the left operand' : undefined;
    return this.emit(origin, op, [input], toIrShape(tfShape, this.layout), { kind: 'none' }, { weights: { operand }, note });
  }

  batchNorm(origin: NodeOrigin, input: string, spec: BatchNormSpec): string {
    const shape = this.shape(input);
    if (toIrAxis(spec.tfAxis, shape.length, this.layout) !== 1) {
      return this.unsupported(origin, [input], `batch normalisation over TF axis ${spec.tfAxis} (not the channel axis) is not supported`);
    }
    const channels = shape[1]!;
    const parameter = (p: NormParameter, role: string) =>
      typeof p === 'number' ? filledWeight(`${origin.name}/${role}`, [channels], p) : p && this.channelWeight(origin, p, channels);
    const weights: NodeWeights = {};
    const scale = parameter(spec.gamma, 'gamma');
    const bias = parameter(spec.beta, 'beta');
    const mean = parameter(spec.mean, 'moving_mean');
    const variance = parameter(spec.variance, 'moving_variance');
    if (scale) weights.scale = scale;
    if (bias) weights.bias = bias;
    if (mean) weights.mean = mean;
    if (variance) weights.variance = variance;
    const attrs: NodeAttrs = { kind: 'norm', epsilon: spec.epsilon, trainingMode: spec.trainingMode };
    return this.emit(origin, 'batchNorm', [input], shape, attrs, { weights });
  }

  // ---- windows and reductions ----------------------------------------------------------------------------------

  pool(origin: NodeOrigin, input: string, spec: PoolSpec): string {
    const [n, channels, h, w] = this.spatialInput(origin, input);
    const dilations: [number, number] = [1, 1];
    const pads = this.resolvePadding(spec.padding, [h, w], spec.kernelSize, spec.strides, dilations);
    const [oh, ow] = windowOutput2d([h, w], spec.kernelSize, spec.strides, dilations, pads);
    if (oh < 1 || ow < 1) throw this.error('bad-shape', origin, `a ${spec.kernelSize.join('x')} window does not fit the ${h}x${w} input`);
    // TF's SAME average pooling divides by the number of real (unpadded) inputs.
    const attrs: NodeAttrs = { kind: 'pool', kernel: spec.kernelSize, strides: spec.strides, dilations, pads, ceilMode: false, countIncludePad: false };
    return this.emit(origin, spec.kind === 'max' ? 'maxPool' : 'avgPool', [input], [n, channels, oh, ow], attrs);
  }

  /** Mean/max over H and W: [N, C] (Keras default), or [N, C, 1, 1] with keepDims. */
  globalPool(origin: NodeOrigin, input: string, kind: 'max' | 'avg', keepDims: boolean): string {
    const [n, channels] = this.spatialInput(origin, input);
    const shape = keepDims ? [n, channels, 1, 1] : [n, channels];
    return this.emit(origin, kind === 'max' ? 'globalMaxPool' : 'globalAvgPool', [input], shape, { kind: 'none' });
  }

  pad(origin: NodeOrigin, input: string, pads: Pads4, mode: 'constant' | 'reflect' | 'edge', value = 0): string {
    const [n, channels, h, w] = this.spatialInput(origin, input);
    const shape = [n, channels, h + pads[0] + pads[2], w + pads[1] + pads[3]];
    return this.emit(origin, 'pad', [input], shape, { kind: 'pad', pads, mode, value });
  }

  // ---- shape ops -----------------------------------------------------------------------------------------------

  /** Flatten to [N, rest], in the engine's (c, h, w) order. */
  flatten(origin: NodeOrigin, input: string): string {
    const tfShape = this.tfShape(input);
    const [n, ...rest] = tfShape;
    const features = rest.reduce((a, b) => a * b, 1);
    const alreadyFlat = tfShape.length <= 2;
    const node = this.emitNode(origin, 'flatten', [input], [n!, features], { kind: 'axis', axis: 1 }, { keepsOrder: alreadyFlat });
    const [h, w, c] = rest as [number, number, number];
    if (tfShape.length === 4 && this.layout === 'NHWC' && c > 1 && h * w > 1) {
      this.meta(node.outputs[0]!).flattenedFrom = [h, w, c];
    }
    return node.outputs[0]!;
  }

  /** Reshape to a TF-layout shape (batch included, -1 allowed); an image map reshaped to [N, rest] is a flatten. */
  reshape(origin: NodeOrigin, input: string, tfTarget: number[]): string {
    const inShape = this.tfShape(input);
    const target = this.shapeRule(origin, () => reshapeTarget(inShape, tfTarget, true));
    if (inShape.length === 4 && target.length === 2 && target[0] === inShape[0]) return this.flatten(origin, input);
    // Undoing a TF flatten is consistent in the engine too: both sides use (c, h, w).
    const flattened = this.meta(input).flattenedFrom;
    const unflattens = flattened !== undefined && target.length === 4 && sameDims(flattened, target.slice(1));
    const node = this.emitNode(origin, 'reshape', [input], toIrShape(target, this.layout), { kind: 'none' }, { consumesFlatten: unflattens });
    if (!unflattens && !sameDims(inShape, target) && (this.orderDiffers(inShape) || this.orderDiffers(target))) {
      addNote(node, 'reshape of an NHWC map: element order differs from TF after the NCHW conversion');
      this.warn(origin, 'reshapes a multi-channel NHWC map; layers after it may see permuted elements');
    }
    return node.outputs[0]!;
  }

  /** TF transpose, re-expressed between engine layouts. */
  transpose(origin: NodeOrigin, input: string, tfPerm: number[]): string {
    const tfShape = this.tfShape(input);
    const rank = tfShape.length;
    const sorted = [...tfPerm].sort((a, b) => a - b);
    if (tfPerm.length !== rank || sorted.some((axis, i) => axis !== i)) {
      throw this.error('bad-shape', origin, `permutation ${fmt(tfPerm)} does not fit a rank-${rank} input`);
    }
    const toTf = irPermutation(rank, this.layout);
    const perm = toTf.map((tfAxis) => toTf.indexOf(tfPerm[tfAxis]!));
    const outTf = tfPerm.map((axis) => tfShape[axis]!);
    return this.emit(origin, 'transpose', [input], toIrShape(outTf, this.layout), { kind: 'transpose', perm });
  }

  concat(origin: NodeOrigin, inputs: string[], tfAxis: number): string {
    const shapes = inputs.map((t) => this.tfShape(t));
    const rank = shapes[0]!.length;
    const axis = tfAxis < 0 ? tfAxis + rank : tfAxis;
    const out = [...shapes[0]!];
    for (const shape of shapes.slice(1)) {
      if (shape.length !== rank || shape.some((d, i) => i !== axis && d !== out[i])) {
        throw this.error('bad-shape', origin, `cannot concatenate ${shapes.map(fmt).join(', ')} along axis ${tfAxis}`);
      }
      out[axis]! += shape[axis]!;
    }
    return this.emit(origin, 'concat', inputs, toIrShape(out, this.layout), { kind: 'axis', axis: toIrAxis(axis, rank, this.layout) });
  }

  /**
   * An op we do not model: kept (never dropped) with a note. Its output shape is the file's or inferred (TF layout),
   * else assumed to be its first input's; `guessed` marks it as a guess that later layers may correct.
   */
  unsupported(origin: NodeOrigin, inputs: string[], note: string, tfOutputShape?: Shape, guessed = tfOutputShape === undefined): string {
    const shape = tfOutputShape ? toIrShape(tfOutputShape, this.layout) : inputs[0] !== undefined ? this.shape(inputs[0]) : [1];
    const node = this.emitNode(origin, 'unsupported', inputs, shape, { kind: 'none' }, { status: 'unsupported', note });
    if (guessed) this.meta(node.outputs[0]!).guessed = true;
    this.warn(origin, note);
    return node.outputs[0]!;
  }

  warn(origin: NodeOrigin, message: string): void {
    this.warnings.push(`${origin.name}: ${message}`);
  }

  finish(format: ModelFormat, producer: string | undefined, outputs?: string[]): LayerGraph {
    const inputNames = new Set(this.inputs.map((input) => input.name));
    for (const name of namedInputs(this.opts.inputShape)) {
      if (!inputNames.has(name) && !inputNames.has(name.replace(/:0$/, ''))) {
        this.warnings.push(`the input shape for "${name}" is not used: the model's inputs are ${[...inputNames].map((n) => `"${n}"`).join(', ')}`);
      }
    }
    const consumed = new Set(this.nodes.flatMap((node) => node.inputs));
    const outputNames = outputs ?? [...this.producers.keys()].filter((t) => !consumed.has(t));
    return {
      format,
      file: this.file,
      ...(producer ? { producer } : {}),
      inputs: this.inputs,
      outputs: outputNames.map((name) => ({ name, shape: this.shape(name) })),
      nodes: this.nodes,
      warnings: this.warnings,
    };
  }

  /** Whether `tensor`'s shape is a guess (it comes after an unsupported op whose output shape is unknown). */
  isGuessed(tensor: string): boolean {
    return this.meta(tensor).guessed === true;
  }

  /**
   * Runs `convert` for one op or layer. When it fails on a shape or weight mismatch while one of its inputs has a
   * guessed shape, the mismatch says more about the guess than about the file: the nodes it emitted are taken back
   * and the op becomes an unsupported node (reported, not analysed) instead of failing the whole model.
   */
  guarded(origin: NodeOrigin, inputs: string[], convert: () => string): string {
    const [nodeCount, warningCount] = [this.nodes.length, this.warnings.length];
    try {
      return convert();
    } catch (e) {
      const guessed = inputs.some((t) => this.tensors.get(t)?.guessed);
      if (!guessed || !(e instanceof ModelReadError) || (e.code !== 'bad-shape' && e.code !== 'bad-weights')) throw e;
      for (const node of this.nodes.splice(nodeCount)) {
        this.ids.delete(node.id);
        for (const t of node.outputs) {
          this.tensors.delete(t);
          this.producers.delete(t);
        }
      }
      this.warnings.splice(warningCount);
      return this.unsupported(origin, inputs, `${e.reason} (its input shape was guessed after an unsupported layer)`);
    }
  }

  /** Error about a node, naming its place in model.json. */
  error(code: ReadErrorCode, origin: NodeOrigin, reason: string): ModelReadError {
    // A shape that does not fit may come from an assumed image size rather than from the file.
    const assumed = (code === 'bad-shape' || code === 'bad-weights') && this.assumedImage ? `; ${this.assumedImage}` : '';
    return new ModelReadError(code, this.file, describeOrigin(origin), reason + assumed);
  }

  /** Runs a shape rule; a ShapeMismatch becomes a 'bad-shape' error at the node. */
  shapeRule<T>(origin: NodeOrigin, rule: () => T): T {
    try {
      return rule();
    } catch (e) {
      if (e instanceof ShapeMismatch) throw this.error('bad-shape', origin, e.message);
      throw e;
    }
  }

  // ---- internals -----------------------------------------------------------------------------------------------

  /** Adds a node and returns it; `emit` returns its output tensor. */
  private emitNode(origin: NodeOrigin, op: OpKind, inputs: string[], shape: Shape, attrs: NodeAttrs, options: EmitOptions = {}): LayerNode {
    const id = this.uniqueId(origin.id);
    const inputMetas = inputs.map((t) => this.meta(t));
    const node: LayerNode = {
      id,
      name: origin.name,
      op,
      sourceOp: origin.sourceOp,
      inputs,
      outputs: [id],
      inputShapes: inputMetas.map((m, i) => (i === 0 && options.inputShape) || m.shape),
      outputShapes: [this.checkShape(shape, describeOrigin(origin))],
      attrs,
      weights: options.weights ?? {},
      location: origin.location,
      status: options.status ?? 'ok',
      ...(options.note ? { note: options.note } : {}),
    };
    const meta: TensorMeta = { shape: node.outputShapes[0]! };
    const flattened = inputMetas.find((m) => m.flattenedFrom)?.flattenedFrom;
    if (flattened && options.keepsOrder) meta.flattenedFrom = flattened;
    else if (flattened && !options.consumesFlatten) {
      this.warn(origin, 'reads a tensor TF flattened in (h, w, c) order; the engine keeps (c, h, w) order here');
    }
    if (inputMetas.some((m) => m.guessed) && op !== 'dense') meta.guessed = true;
    this.nodes.push(node);
    this.tensors.set(id, meta);
    this.producers.set(id, node);
    if (this.nodes.length > this.opts.maxNodes) {
      throw this.error('too-large', origin, `the graph has more than ${this.opts.maxNodes} nodes`);
    }
    return node;
  }

  private emit(origin: NodeOrigin, op: OpKind, inputs: string[], shape: Shape, attrs: NodeAttrs, options: EmitOptions = {}): string {
    return this.emitNode(origin, op, inputs, shape, attrs, options).outputs[0]!;
  }

  private meta(tensor: string): TensorMeta {
    const meta = this.tensors.get(tensor);
    if (!meta) throw new Error(`IrBuilder: unknown tensor "${tensor}"`);
    return meta;
  }

  private uniqueId(preferred: string): string {
    let id = preferred;
    if (this.ids.has(id)) {
      // Ids are never released, so the search resumes where the last one for this base stopped.
      let k = this.nextSuffix.get(preferred) ?? 1;
      do id = `${preferred}_${k++}`;
      while (this.ids.has(id));
      this.nextSuffix.set(preferred, k);
    }
    this.ids.add(id);
    return id;
  }

  /** NCHW dims of a rank-4 input, or a 'bad-shape' error naming the node. */
  private spatialInput(origin: NodeOrigin, input: string): [number, number, number, number] {
    const shape = this.shape(input);
    if (shape.length !== 4) throw this.error('bad-shape', origin, `expects a rank-4 image tensor, got ${fmt(this.tfShape(input))}`);
    return shape as [number, number, number, number];
  }

  private resolvePadding(padding: Padding, hw: [number, number], kernel: [number, number], strides: [number, number], dilations: [number, number]): Pads4 {
    if (padding === 'valid') return [0, 0, 0, 0];
    if (padding === 'same') return samePads2d(hw, kernel, strides, dilations, true);
    return padding;
  }

  private resolveInputShape(name: string, declared: (number | null)[] | undefined, where: string): Shape {
    const first = this.inputs.length === 0;
    const given = inputShapeFor(this.opts.inputShape, name, first) ?? inputShapeFor(this.opts.inputShape, `${name}:0`, first);
    if (given) {
      const full = declared && given.length === declared.length - 1 ? [1, ...given] : [...given];
      if (declared && full.length !== declared.length) {
        throw new ModelReadError('bad-shape', this.file, where, `inputShape ${fmt(given)} does not fit input "${name}" of shape ${fmtDims(declared)}`);
      }
      declared?.forEach((d, i) => {
        if (d !== null && d !== full[i]) {
          throw new ModelReadError('bad-shape', this.file, where, `inputShape ${fmt(given)} conflicts with input "${name}" of shape ${fmtDims(declared)}`);
        }
      });
      return full;
    }
    if (!declared) {
      throw new ModelReadError('bad-shape', this.file, where, `input "${name}" declares no shape; pass an input shape`);
    }
    const image = assumedImageShape(
      declared.map((d) => d ?? undefined),
      this.layout === 'NHWC' ? 3 : 1,
      this.imageHint,
    );
    if (image) {
      this.warnings.push(
        `input "${name}" ${fmtDims(declared)} has a dynamic image size; assuming ${fmt(image.shape)} (${image.because}); pass an input shape to choose another`,
      );
      this.assumedImage = `input "${name}" was assumed to be ${fmt(image.shape)}: pass an input shape`;
      return image.shape;
    }
    return declared.map((d, i) => {
      if (d !== null) return d;
      if (i === 0) {
        this.warnings.push(`input "${name}": dynamic batch dimension set to 1`);
        return 1;
      }
      throw new ModelReadError('bad-shape', this.file, where, `dimension ${i} of input "${name}" ${fmtDims(declared)} is dynamic; pass an input shape`);
    });
  }

  private checkShape(shape: Shape, where: string): Shape {
    let elements = 1;
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d < 1) throw new ModelReadError('bad-shape', this.file, where, `invalid tensor shape ${fmt(shape)}`);
      elements *= d;
    }
    if (elements > this.opts.maxTensorElements) {
      throw new ModelReadError(
        'bad-shape',
        this.file,
        where,
        `tensor shape ${fmt(shape)} has ${elements} elements, over the ${this.opts.maxTensorElements}-element limit`,
      );
    }
    return shape;
  }

  private expectShape(origin: NodeOrigin, weight: StoredWeight, expected: number[]): void {
    if (!sameDims(weight.shape, expected)) {
      throw this.error('bad-weights', origin, `weight "${weight.name}" has shape ${fmt(weight.shape)}, expected ${fmt(expected)}`);
    }
  }

  private channelWeight(origin: NodeOrigin, stored: StoredWeight, channels: number): WeightTensor {
    const weight = channelVector(stored, channels);
    if (!weight) throw this.error('bad-weights', origin, `weight "${stored.name}" has shape ${fmt(stored.shape)}, expected [${channels}]`);
    return weight;
  }

  /** PReLU slope: per channel ([C] or [1, 1, C]) or per element ([H, W, C]) → engine layout. */
  private slopeWeight(origin: NodeOrigin, input: string, slope: StoredWeight): WeightTensor {
    const rank = this.shape(input).length;
    const channels = this.shape(input)[1]!;
    const perChannel = channelVector(slope, channels);
    if (perChannel) return rank === 4 ? { ...perChannel, shape: [channels, 1, 1] } : perChannel;
    if (slope.shape.length === rank - 1) return broadcastOperand(slope, rank, this.layout);
    throw this.error('bad-weights', origin, `slope "${slope.name}" has shape ${fmt(slope.shape)}, which does not fit the input`);
  }

  /** Whether this TF shape's element order changes under the NHWC → NCHW conversion. */
  private orderDiffers(tfShape: Shape): boolean {
    return this.layout === 'NHWC' && tfShape.length === 4 && tfShape[3]! > 1 && tfShape[1]! * tfShape[2]! > 1;
  }
}

function outFeaturesOf(node: LayerNode): number {
  return node.attrs.kind === 'conv' ? node.attrs.outChannels : node.attrs.kind === 'dense' ? node.attrs.outFeatures : 0;
}

function addNote(node: LayerNode, note: string): void {
  node.note = node.note ? `${node.note}; ${note}` : note;
}

function describeOrigin(origin: NodeOrigin): string {
  const place = origin.location.format === 'json' ? formatJsonPath(origin.location.jsonPath) : `node ${origin.location.nodeIndex}`;
  return `${place} (${origin.name})`;
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function fmtDims(dims: readonly (number | null)[]): string {
  return `[${dims.map((d) => (d === null ? '?' : d)).join(', ')}]`;
}
