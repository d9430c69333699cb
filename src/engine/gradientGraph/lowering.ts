// From the attack network to the gradient graph's layers. The graph runs what the float64 network runs (the nodes
// the logits depend on, in the IR's topological order, a trailing softmax ignored, an inference batch norm folded
// into the conv/dense layer it follows when nothing else reads that layer's output) and produces the gradients a
// client shares: conv/dense weight and bias, batch-norm scale and offset, PReLU slopes, named as in the model file.
import type { ConvAttrs, LayerNode, PadAttrs, PoolAttrs, Shape, WeightTensor } from '../ir';
import { sizeOf } from '../ir';
import { type AttackNetwork } from '../attack/network/attackNetwork';
import { AttackSetupError } from '../attack/network/setupError';
import type { GradientOp, ParameterBlock } from './gradientOp';
import { ConvOp } from './convOp';
import { AffineParameters, type FoldedBatchNorm, type LayerWeight } from './affineParameters';
import { BatchNormOp, ConstantAffineOp, DenseOp, ElementwiseOp } from './parameterOps';
import { AvgPoolOp, ConcatOp, GlobalAvgPoolOp, MaxPoolOp, PadOp, ReshapeOp, SumOp, TransposeOp, type PoolWindow } from './structuralOps';

export interface LoweredNetwork {
  /** Layers in forward order. */
  ops: GradientOp[];
  /** Static shape of every slot (one slot per computed tensor, plus the source). */
  slotShapes: number[][];
  /** The slot the graph is fed (the model input, or the input of `fromUnit`). */
  source: number;
  logits: number;
  /** The IR tensor behind the source. */
  sourceTensor: string;
}

/** The layers from the model input (or from `fromUnit`'s input) to the logits. */
export function lowerNetwork(net: AttackNetwork, fromUnit?: string): LoweredNetwork {
  return new Lowering(net).run(fromUnit);
}

class Lowering {
  private readonly slotOf = new Map<string, number>();
  private readonly slotShapes: number[][] = [];
  private readonly ops: GradientOp[] = [];
  private readonly producer = new Map<string, LayerNode>();
  private readonly consumers = new Map<string, LayerNode[]>();
  /** Batch-norm nodes folded into the layer before them. */
  private readonly absorbed = new Set<string>();

  constructor(private readonly net: AttackNetwork) {
    for (const n of net.graph.nodes) {
      for (const t of n.outputs) this.producer.set(t, n);
      for (const t of n.inputs) this.consumers.set(t, [...(this.consumers.get(t) ?? []), n]);
    }
  }

  run(fromUnit: string | undefined): LoweredNetwork {
    const graph = this.net.graph;
    const { tensor: sourceTensor, shape: sourceShape } = this.sourceOf(fromUnit);
    const source = this.newSlot(sourceTensor, sourceShape);
    const logitsTensor = this.logitsTensor();
    const needed = this.nodesNeededFor(logitsTensor);
    for (const node of graph.nodes) {
      if (!needed.has(node.id) || this.absorbed.has(node.id)) continue;
      const computed = node.inputs.map((t) => this.slotOf.has(t));
      // Above the source (the hybrid's closed-form part): not in this graph.
      if (!computed.some(Boolean)) continue;
      if (!computed.every(Boolean)) {
        const missing = node.inputs.find((t) => !this.slotOf.has(t));
        throw this.error(node, `it reads ${missing}, which is computed before ${fromUnit}: the network after ${fromUnit} must only read what it computes`);
      }
      this.ops.push(this.lower(node));
    }
    const logits = this.slotOf.get(logitsTensor);
    if (logits === undefined) throw new AttackSetupError(`the logits (${logitsTensor}) do not depend on ${fromUnit ?? 'the model input'}`, fromUnit);
    return { ops: this.ops, slotShapes: this.slotShapes, source, logits, sourceTensor };
  }

  private sourceOf(fromUnit: string | undefined): { tensor: string; shape: number[] } {
    const graph = this.net.graph;
    if (fromUnit === undefined) {
      if (graph.inputs.length !== 1) throw new AttackSetupError(`the model has ${graph.inputs.length} inputs; gradient matching needs one image input`);
      return { tensor: graph.inputs[0].name, shape: [...graph.inputs[0].shape] };
    }
    if (!this.net.order.some((u) => u.id === fromUnit)) throw new AttackSetupError(`${fromUnit} is not a unit on the way to the logits`, fromUnit);
    const node = this.net.graph.nodes.find((n) => n.id === fromUnit);
    if (!node || node.inputs.length !== 1) throw new AttackSetupError(`${fromUnit} must read exactly one tensor to start a gradient graph there`, fromUnit);
    return { tensor: node.inputs[0], shape: [...node.inputShapes[0]] };
  }

  /** The model output produced by the logits unit (or a node folded into it). */
  private logitsTensor(): string {
    const unit = this.net.logitsUnit;
    const members = new Set([unit.id, ...unit.folded]);
    for (const o of this.net.graph.outputs) {
      const p = this.producer.get(o.name);
      if (p && members.has(p.id)) return o.name;
    }
    throw new AttackSetupError(`no model output comes from ${unit.id}`, unit.id);
  }

  private nodesNeededFor(tensor: string): Set<string> {
    const needed = new Set<string>();
    const stack = [tensor];
    while (stack.length) {
      const p = this.producer.get(stack.pop()!);
      if (!p || needed.has(p.id)) continue;
      needed.add(p.id);
      stack.push(...p.inputs);
    }
    return needed;
  }

  private newSlot(tensor: string, shape: Shape): number {
    const slot = this.slotShapes.length;
    this.slotShapes.push([...shape]);
    this.slotOf.set(tensor, slot);
    return slot;
  }

  private error(node: LayerNode, why: string): AttackSetupError {
    const unit = this.net.order.find((u) => u.id === node.id || u.folded.includes(node.id));
    return new AttackSetupError(`${node.name || node.id} (${node.sourceOp}) cannot be written as a gradient graph: ${why}`, unit?.id ?? node.id);
  }

  /** One IR node as a gradient-graph layer (its output slot is created here). */
  private lower(node: LayerNode): GradientOp {
    const fail = (why: string): never => {
      throw this.error(node, why);
    };
    if (node.status !== 'ok') fail(node.note ?? 'unsupported operator');
    if (node.outputs.length !== 1) fail(`it has ${node.outputs.length} outputs`);
    const inputs = node.inputs.map((t) => this.slotOf.get(t)!);
    const inShape = this.slotShapes[inputs[0]];
    const id = node.id;
    if (node.op === 'conv' || node.op === 'dense') return this.affine(node, inputs[0], inShape, fail);
    const outShape = [...node.outputShapes[0]];
    const out = this.newSlot(node.outputs[0], outShape);
    switch (node.op) {
      case 'activation': {
        if (node.attrs.kind !== 'activation') fail('no activation attributes');
        const attrs = node.attrs as Extract<LayerNode['attrs'], { kind: 'activation' }>;
        if (attrs.activation === 'linear') return new ReshapeOp(id, inputs[0], out, inShape, outShape);
        let slope: (LayerWeight & { shape: number[] }) | undefined;
        if (attrs.activation === 'prelu') {
          const w = node.weights.slope ?? fail('PReLU without a slope tensor');
          slope = { ...this.weight(w, [...w.shape], fail), shape: [...w.shape] };
        }
        return new ElementwiseOp(id, inputs[0], out, inShape, { kind: 'activation', attrs, slope });
      }
      case 'batchNorm': {
        if (node.attrs.kind !== 'norm' || node.attrs.trainingMode) fail('batch norm with batch statistics (training mode)');
        const channels = inShape[1] ?? 1;
        const { scale, bias, mean, variance } = node.weights;
        return new BatchNormOp(
          id,
          inputs[0],
          out,
          inShape,
          this.optionalWeight(scale, [channels], fail),
          this.optionalWeight(bias, [channels], fail),
          mean?.load() ?? new Float64Array(channels),
          variance?.load() ?? new Float64Array(channels).fill(1),
          (node.attrs as { epsilon: number }).epsilon,
        );
      }
      case 'add':
      case 'sub':
      case 'mul':
      case 'div': {
        const operand = node.weights.operand;
        if (operand && inputs.length === 1) return this.constantOp(node, inputs[0], out, operand, inShape, outShape, fail);
        if (node.op === 'mul' || node.op === 'div') fail('product of two activations');
        if (inputs.length < 2) fail('element-wise op with an unknown operand');
        for (const i of inputs)
          if (sizeOf(this.slotShapes[i]) !== sizeOf(outShape) || this.slotShapes[i].length !== outShape.length) fail('broadcasting between activations');
        return new SumOp(
          id,
          inputs,
          out,
          inputs.map((_, i) => (node.op === 'sub' && i > 0 ? -1 : 1)),
        );
      }
      case 'concat': {
        if (node.attrs.kind !== 'axis') fail('no axis');
        const axis = (node.attrs as { axis: number }).axis;
        return new ConcatOp(
          id,
          inputs,
          out,
          axis < 0 ? axis + outShape.length : axis,
          inputs.map((i) => this.slotShapes[i]),
          outShape,
        );
      }
      case 'maxPool':
      case 'globalMaxPool':
      case 'avgPool': {
        if (inShape.length !== 4) fail('pooling of a tensor that is not NCHW');
        const window = poolWindow(node, inShape);
        if (node.op === 'avgPool') return new AvgPoolOp(id, inputs[0], out, inShape, outShape, window);
        return new MaxPoolOp(id, inputs[0], out, inShape, outShape, window);
      }
      case 'globalAvgPool':
        if (inShape.length !== 4) fail('pooling of a tensor that is not NCHW');
        return new GlobalAvgPoolOp(id, inputs[0], out, inShape, outShape);
      case 'flatten':
      case 'reshape':
      case 'dropout':
      case 'identity':
      case 'softmax':
      case 'logSoftmax':
        if ((node.op === 'softmax' || node.op === 'logSoftmax') && !this.net.logitsUnit.folded.includes(node.id) && this.net.logitsUnit.id !== node.id) {
          fail('a softmax inside the network (only a trailing one is ignored)');
        }
        if (sizeOf(inShape) !== sizeOf(outShape)) fail(`reshapes ${sizeOf(inShape)} entries to ${sizeOf(outShape)}`);
        return new ReshapeOp(id, inputs[0], out, inShape, outShape);
      case 'transpose':
        if (node.attrs.kind !== 'transpose') fail('no permutation');
        return new TransposeOp(id, inputs[0], out, [...(node.attrs as { perm: number[] }).perm]);
      case 'pad': {
        if (node.attrs.kind !== 'pad' || inShape.length !== 4) fail('padding of a tensor that is not NCHW');
        const attrs = node.attrs as PadAttrs;
        if (attrs.pads.some((p) => p < 0)) fail('negative pads (cropping)');
        return new PadOp(id, inputs[0], out, inShape, [...attrs.pads], attrs.mode, attrs.value);
      }
      default:
        return fail(`${node.op} has no rule in the gradient graph`);
    }
  }

  /** A conv or dense layer, with the batch norm that alone reads its output folded in. */
  private affine(node: LayerNode, input: number, inShape: number[], fail: (why: string) => never): GradientOp {
    const kernel = node.weights.kernel ?? fail('the kernel is not a constant of the model');
    const norm = this.foldableBatchNorm(node);
    const outNode = norm ?? node;
    const outShape = [...outNode.outputShapes[0]];
    const out = this.newSlot(outNode.outputs[0], outShape);
    let folded: FoldedBatchNorm | undefined;
    if (norm) {
      this.absorbed.add(norm.id);
      const channels = outShape[1];
      const { scale, bias, mean, variance } = norm.weights;
      folded = {
        gamma: this.optionalWeight(scale, [channels], fail),
        beta: this.optionalWeight(bias, [channels], fail),
        mean: mean?.load(),
        variance: variance?.load(),
        epsilon: (norm.attrs as { epsilon: number }).epsilon,
      };
    }
    if (node.op === 'conv') {
      if (node.attrs.kind !== 'conv' || inShape.length !== 4) fail('a convolution needs NCHW input and its attributes');
      const attrs = node.attrs as ConvAttrs;
      const shape = [attrs.outChannels, inShape[1] / attrs.groups, attrs.kernel[0], attrs.kernel[1]];
      const params = new AffineParameters(
        node.id,
        this.weight(kernel, shape, fail),
        this.optionalWeight(node.weights.bias, [attrs.outChannels], fail),
        attrs.outChannels,
        folded,
      );
      return new ConvOp(node.id, input, out, attrs, inShape, outShape, params);
    }
    if (node.attrs.kind !== 'dense') fail('no dense attributes');
    const { inFeatures, outFeatures } = node.attrs as { inFeatures: number; outFeatures: number };
    if (sizeOf(inShape) !== inFeatures) fail(`reads ${sizeOf(inShape)} values, the kernel expects ${inFeatures}`);
    const params = new AffineParameters(
      node.id,
      this.weight(kernel, [outFeatures, inFeatures], fail),
      this.optionalWeight(node.weights.bias, [outFeatures], fail),
      outFeatures,
      folded,
    );
    return new DenseOp(node.id, input, out, inShape, outShape, inFeatures, outFeatures, params);
  }

  /** The inference batch norm that is the only reader of `node`'s output (not a model output), if any. */
  private foldableBatchNorm(node: LayerNode): LayerNode | undefined {
    const tensor = node.outputs[0];
    const readers = this.consumers.get(tensor) ?? [];
    if (readers.length !== 1 || this.net.graph.outputs.some((o) => o.name === tensor)) return undefined;
    const [bn] = readers;
    const ok =
      bn.op === 'batchNorm' && bn.status === 'ok' && bn.attrs.kind === 'norm' && !bn.attrs.trainingMode && bn.inputs[0] === tensor && bn.outputs.length === 1;
    return ok && sizeOf(bn.outputShapes[0]) === sizeOf(node.outputShapes[0]) ? bn : undefined;
  }

  private constantOp(
    node: LayerNode,
    input: number,
    out: number,
    operand: WeightTensor,
    inShape: number[],
    outShape: number[],
    fail: (why: string) => never,
  ): GradientOp {
    if (sizeOf(inShape) !== sizeOf(outShape)) fail('the constant broadcasts the activation to a larger shape');
    const values = operand.load();
    if (operand.shape.length > outShape.length) fail(`operand [${operand.shape.join(', ')}] does not broadcast to [${outShape.join(', ')}]`);
    const shape = [...new Array<number>(outShape.length - operand.shape.length).fill(1), ...operand.shape];
    if (shape.some((d, i) => d !== 1 && d !== outShape[i])) fail(`operand [${operand.shape.join(', ')}] does not broadcast to [${outShape.join(', ')}]`);
    const constantFirst = (node.note ?? '').includes('constant is the left operand');
    const tensor = (v: Float64Array) => ({ values: v, shape });
    switch (node.op) {
      case 'add':
        return new ConstantAffineOp(node.id, input, out, undefined, tensor(values));
      case 'sub':
        return constantFirst
          ? new ConstantAffineOp(node.id, input, out, tensor(new Float64Array(values.length).fill(-1)), tensor(values))
          : new ConstantAffineOp(node.id, input, out, undefined, tensor(values.map((v) => -v)));
      case 'mul':
        return new ConstantAffineOp(node.id, input, out, tensor(values), undefined);
      default:
        if (constantFirst) return new ElementwiseOp(node.id, input, out, outShape, { kind: 'reciprocal', numerator: values, shape });
        return new ConstantAffineOp(node.id, input, out, tensor(values.map((v) => 1 / v)), undefined);
    }
  }

  private weight(w: WeightTensor, shape: number[], fail: (why: string) => never): LayerWeight {
    const values = w.load();
    if (values.length !== sizeOf(shape)) fail(`${w.name} has ${values.length} values, expected [${shape.join(', ')}]`);
    const block: ParameterBlock | undefined = w.storage === 'implicit' ? undefined : { name: w.name, fileShape: [...w.shape], shape };
    return { values, block };
  }

  private optionalWeight(w: WeightTensor | undefined, shape: number[], fail: (why: string) => never): LayerWeight | undefined {
    return w && this.weight(w, shape, fail);
  }
}

function poolWindow(node: LayerNode, inShape: number[]): PoolWindow {
  if (node.attrs.kind === 'pool') {
    const a = node.attrs as PoolAttrs;
    return {
      kernel: [...a.kernel],
      strides: [...a.strides],
      dilations: [...a.dilations],
      pads: [...a.pads],
      ceilMode: a.ceilMode,
      countIncludePad: a.countIncludePad,
    };
  }
  return { kernel: [inShape[2], inShape[3]], strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], ceilMode: false, countIncludePad: false };
}
