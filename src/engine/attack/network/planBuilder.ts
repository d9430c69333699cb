// The plan builder: IR nodes → the ops of an execution plan (plan.ts). Execution follows the IR tensors; parameters
// follow the analysis units (a conv/dense node runs with its unit's effective kernel and bias, followed by the
// activation the unit absorbed).
import type { ConvAttrs, LayerGraph, LayerNode, WeightTensor } from '../../ir';
import { sizeOf } from '../../ir';
import type { AnalysisGraph, Unit } from '../../analysis/units';
import { ConvOperator, FullyConnectedOperator } from '../../numerics/convOperators';
import { convGeometryFromAttrs } from '../../numerics/convGeometry';
import { activationMath } from '../activationMath';
import { AffineOp, affineOutputSize } from './affineOp';
import { ActivationOp, ElementAffineOp, ReciprocalOp } from './elementwiseOps';
import { broadcastIndex, channelIndex, imageShape, padIndex, poolWindows, transposeIndex } from './indexMaps';
import type { AffineParameters, Plan, PlanBuild, PlanOp, UnitSlots } from './plan';
import { AvgPoolOp, MaxPoolOp } from './poolingOps';
import { AttackSetupError } from './setupError';
import { ConcatOp, GatherOp, IdentityOp, SumOp } from './structuralOps';

/**
 * Most values a plan may hold: its slots and the index maps it precomputes (pooling windows, gathers). 2²⁷ float64
 * values are 1 GiB per buffer set: above the 224×224 ImageNet models (DenseNet-121 75 M, VGG-19 31 M, ResNet-50 27 M),
 * far below what a crafted attribute can ask for (a padding of 10⁴ around an 8×8 input makes 8·10⁸ outputs). Checked
 * before anything of that size is made.
 */
export const MAX_PLAN_VALUES = 2 ** 27;

export class PlanBuilder {
  /** Values held by the slots so far. */
  private values = 0;
  private readonly slotOf = new Map<string, number>();
  private readonly slotSizes: number[] = [];
  private readonly ops: PlanOp[] = [];
  private readonly nodeById = new Map<string, LayerNode>();
  private readonly unitOfNode = new Map<string, Unit>();
  private readonly consumers = new Map<string, number>();
  private readonly unitSlots = new Map<string, UnitSlots>();
  private readonly parameters = new Map<string, AffineParameters>();

  constructor(
    private readonly graph: LayerGraph,
    private readonly analysis: AnalysisGraph,
  ) {
    for (const n of graph.nodes) {
      this.nodeById.set(n.id, n);
      for (const t of n.inputs) this.consumers.set(t, (this.consumers.get(t) ?? 0) + 1);
    }
    for (const u of analysis.units) {
      this.unitOfNode.set(u.id, u);
      for (const f of u.folded) this.unitOfNode.set(f, u);
    }
  }

  build(): PlanBuild {
    const graph = this.graph;
    if (graph.inputs.length !== 1) throw new AttackSetupError(`the model has ${graph.inputs.length} inputs; the attack needs exactly one image input`);
    const input = graph.inputs[0];
    const inputShape = imageShape(input.shape);
    if (input.shape[0] !== 1 && input.shape.length > 1) throw new AttackSetupError(`the model input has batch size ${input.shape[0]}; the attack runs batch 1`);
    const source = this.newSlot(input.name, sizeOf(input.shape));

    if (this.analysis.outputUnits.length !== 1) {
      throw new AttackSetupError(
        `the model has ${this.analysis.outputUnits.length} final outputs (${this.analysis.outputUnits.join(', ')}); the attack needs one logits output`,
      );
    }
    const logitsUnit = this.analysis.units.find((u) => u.id === this.analysis.outputUnits[0])!;
    const logitsTensor = this.logitsTensor(logitsUnit);

    // Only the nodes the logits depend on run (probe outputs and dead branches are skipped).
    const needed = this.nodesNeededFor(logitsTensor);
    const absorbed = new Set<string>();
    for (const node of this.graph.nodes) {
      if (!needed.has(node.id) || absorbed.has(node.id)) continue;
      this.emitNode(node, absorbed, logitsUnit);
    }
    const logits = this.slotOf.get(logitsTensor);
    if (logits === undefined) throw new AttackSetupError(`the logits tensor ${logitsTensor} is not computed`, logitsUnit.id);
    if (this.slotSizes[logits] < 2)
      throw new AttackSetupError(`the logits have ${this.slotSizes[logits]} entry; softmax cross-entropy needs at least 2 classes`, logitsUnit.id);
    this.ops.forEach((op, k) => (op.index = k));

    // Unit output = the last of its nodes that ran (what the next unit reads).
    const order: Unit[] = [];
    for (const u of this.analysis.units) {
      const slots = this.unitSlots.get(u.id);
      if (!slots) continue;
      let out = slots.out;
      for (const f of u.folded) {
        const node = this.nodeById.get(f);
        const slot = node && this.slotOf.get(node.outputs[0]);
        if (slot !== undefined && needed.has(f)) out = slot;
      }
      slots.out = out;
      order.push(u);
    }
    return {
      plan: { ops: this.ops, slotSizes: this.slotSizes, source, logits } satisfies Plan,
      order,
      logitsUnit,
      inputShape,
      unitSlots: this.unitSlots,
      parameters: this.parameters,
    };
  }

  private newSlot(tensor: string, size: number): number {
    if (this.values + size > MAX_PLAN_VALUES) {
      throw new AttackSetupError(`tensor ${tensor} (${size} values) takes the network over ${MAX_PLAN_VALUES} values: too large for the attack`);
    }
    this.values += size;
    const slot = this.slotSizes.length;
    this.slotSizes.push(size);
    this.slotOf.set(tensor, slot);
    return slot;
  }

  private read(node: LayerNode, i: number): number {
    const slot = this.slotOf.get(node.inputs[i]);
    if (slot === undefined)
      throw new AttackSetupError(`${node.id} reads ${node.inputs[i]}, which the network does not compute`, this.unitOfNode.get(node.id)?.id);
    return slot;
  }

  private push(op: PlanOp, unit: Unit | undefined): PlanOp {
    op.unitId = unit?.id ?? '';
    this.ops.push(op);
    if (unit && !this.unitSlots.has(unit.id)) this.unitSlots.set(unit.id, { pre: op.output, out: op.output, firstOp: this.ops.length - 1 });
    return op;
  }

  /** The model output tensor produced by the logits unit. */
  private logitsTensor(unit: Unit): string {
    const members = new Set([unit.id, ...unit.folded]);
    const producer = new Map<string, LayerNode>();
    for (const n of this.graph.nodes) for (const t of n.outputs) producer.set(t, n);
    for (const o of this.graph.outputs) {
      const p = producer.get(o.name);
      if (p && members.has(p.id)) return o.name;
    }
    throw new AttackSetupError(`no model output comes from ${unit.id}`, unit.id);
  }

  private nodesNeededFor(tensor: string): Set<string> {
    const producer = new Map<string, LayerNode>();
    for (const n of this.graph.nodes) for (const t of n.outputs) producer.set(t, n);
    const needed = new Set<string>();
    const stack = [tensor];
    while (stack.length) {
      const p = producer.get(stack.pop()!);
      if (!p || needed.has(p.id)) continue;
      needed.add(p.id);
      stack.push(...p.inputs);
    }
    return needed;
  }

  private emitNode(node: LayerNode, absorbed: Set<string>, logitsUnit: Unit): void {
    const unit = this.unitOfNode.get(node.id);
    const fail = (why: string): never => {
      throw new AttackSetupError(
        `${unit && unit.id !== node.id ? `${unit.id}: ` : ''}${node.name || node.id} (${node.sourceOp}) cannot run in the attack network: ${why}`,
        unit?.id ?? node.id,
      );
    };
    if (node.status !== 'ok') fail(node.note ?? 'unsupported operator');
    if (node.outputs.length !== 1) fail(`it has ${node.outputs.length} outputs`);
    const outName = node.outputs[0];
    const outSize = sizeOf(node.outputShapes[0] ?? []);
    const isMain = unit?.id === node.id;
    if (isMain && unit.kind === 'unsupported') fail(unit.note ?? 'unsupported');
    if (isMain && unit.kind === 'broken' && node.op !== 'activation') fail(unit.note ?? 'not executable');
    // before any index map of the output's size is made (pads, transposes, broadcasts, pooling windows)
    if (this.values + outSize > MAX_PLAN_VALUES) fail(`its output of ${outSize} values takes the network over ${MAX_PLAN_VALUES} values`);

    switch (node.op) {
      case 'conv':
      case 'dense':
        if (!isMain || (unit.kind !== 'conv' && unit.kind !== 'dense')) fail('not a conv/dense unit');
        this.emitAffine(node, unit!, absorbed, fail);
        return;
      case 'activation': {
        const x = this.read(node, 0);
        const y = this.newSlot(outName, outSize);
        this.push(this.activationOp(node, x, y, fail), unit);
        if (isMain) this.unitSlots.get(unit.id)!.pre = x;
        return;
      }
      case 'flatten':
      case 'reshape':
      case 'dropout':
      case 'identity':
      case 'softmax':
      case 'logSoftmax': {
        if ((node.op === 'softmax' || node.op === 'logSoftmax') && unit !== logitsUnit) fail('a softmax inside the network (only a trailing one is ignored)');
        const x = this.read(node, 0);
        if (this.slotSizes[x] !== outSize) fail(`reshapes ${this.slotSizes[x]} entries to ${outSize}`);
        this.push(new IdentityOp(node.id, [x], this.newSlot(outName, outSize), outSize), unit);
        return;
      }
      case 'transpose': {
        if (node.attrs.kind !== 'transpose') fail('no permutation');
        const x = this.read(node, 0);
        const source = transposeIndex(node.inputShapes[0], (node.attrs as { perm: number[] }).perm);
        this.push(new GatherOp(node.id, x, this.newSlot(outName, source.length), source, 0), unit);
        return;
      }
      case 'pad': {
        if (node.attrs.kind !== 'pad') fail('no pads');
        const attrs = node.attrs as { pads: [number, number, number, number]; mode: 'constant' | 'reflect' | 'edge'; value: number };
        const x = this.read(node, 0);
        const source = padIndex(node.inputShapes[0], attrs.pads, attrs.mode, fail);
        this.push(new GatherOp(node.id, x, this.newSlot(outName, source.length), source, attrs.value), unit);
        return;
      }
      case 'batchNorm':
        this.emitBatchNorm(node, unit, fail);
        return;
      case 'add':
      case 'sub':
      case 'mul':
      case 'div': {
        const operand = node.weights.operand;
        if (operand && node.inputs.length === 1) {
          this.emitConstantOp(node, operand, unit, fail);
          return;
        }
        if (node.op === 'mul' || node.op === 'div') fail('product of two activations');
        const inputs = node.inputs.map((_, i) => this.read(node, i));
        if (inputs.length < 2) fail('element-wise op with an unknown operand');
        for (const i of inputs) if (this.slotSizes[i] !== outSize) fail('broadcasting between activations');
        const signs = inputs.map((_, i) => (node.op === 'sub' && i > 0 ? -1 : 1));
        this.push(new SumOp(node.id, inputs, this.newSlot(outName, outSize), outSize, signs), unit);
        return;
      }
      case 'concat': {
        if (node.attrs.kind !== 'axis') fail('no axis');
        const rank = node.outputShapes[0].length;
        let axis = (node.attrs as { axis: number }).axis;
        if (axis < 0) axis += rank;
        const inputs = node.inputs.map((_, i) => this.read(node, i));
        const outer = sizeOf(node.outputShapes[0].slice(0, axis));
        const inner = node.inputShapes.map((s) => sizeOf(s.slice(axis)));
        this.push(new ConcatOp(node.id, inputs, this.newSlot(outName, outSize), outSize, outer, inner), unit);
        return;
      }
      case 'avgPool':
      case 'globalAvgPool':
      case 'maxPool':
      case 'globalMaxPool': {
        const x = this.read(node, 0);
        const isMax = node.op === 'maxPool' || node.op === 'globalMaxPool';
        const { windows, weight } = poolWindows(node, isMax, MAX_PLAN_VALUES - this.values, fail);
        const y = this.newSlot(outName, outSize);
        if (windows.start.length - 1 !== outSize) fail(`pooling gives ${windows.start.length - 1} outputs, the model says ${outSize}`);
        this.push(isMax ? new MaxPoolOp(node.id, x, y, windows) : new AvgPoolOp(node.id, x, y, windows, weight), unit);
        return;
      }
      default:
        fail(unit?.note ?? `${node.op} is not executable`);
    }
  }

  /** Eval batch norm on its own (not folded into a conv): y = a·x + t per channel, with γ/β gradients. */
  private emitBatchNorm(node: LayerNode, unit: Unit | undefined, fail: (why: string) => never): void {
    const outSize = sizeOf(node.outputShapes[0] ?? []);
    if (node.attrs.kind !== 'norm' || node.attrs.trainingMode) fail('batch norm with batch statistics (training mode)');
    const x = this.read(node, 0);
    const shape = node.inputShapes[0];
    const channels = shape[1] ?? 1;
    const eps = (node.attrs as { epsilon: number }).epsilon;
    const gamma = node.weights.scale?.load();
    const beta = node.weights.bias?.load();
    const mean = node.weights.mean?.load() ?? new Float64Array(channels);
    const variance = node.weights.variance?.load();
    const invStd = new Float64Array(channels);
    for (let c = 0; c < channels; c++) invStd[c] = 1 / Math.sqrt((variance ? variance[c] : 1) + eps);
    const channelOf = channelIndex(shape);
    const scale = new Float64Array(outSize);
    const shift = new Float64Array(outSize);
    for (let k = 0; k < outSize; k++) {
      const c = channelOf[k];
      scale[k] = (gamma ? gamma[c] : 1) * invStd[c];
      shift[k] = (beta ? beta[c] : 0) - mean[c] * scale[k];
    }
    this.push(new ElementAffineOp(node.id, x, this.newSlot(node.outputs[0], outSize), scale, shift, { channelOf, channels, mean, invStd }), unit);
  }

  private emitAffine(node: LayerNode, unit: Unit, absorbed: Set<string>, fail: (why: string) => never): void {
    const x = this.read(node, 0);
    if (!unit.kernel || !node.weights.kernel) fail('the kernel is not a constant of the model');
    const kernel = unit.kernel!();
    let operator: ConvOperator | FullyConnectedOperator;
    let channelSize: number;
    let outChannels: number;
    if (node.op === 'conv') {
      if (node.attrs.kind !== 'conv') fail('no convolution attributes');
      const geom = convGeometryFromAttrs(node.inputShapes[0], node.attrs as ConvAttrs);
      operator = new ConvOperator(geom);
      channelSize = geom.outHeight * geom.outWidth;
      outChannels = geom.outChannels;
      if (kernel.length !== geom.nW) fail(`kernel has ${kernel.length} entries, the geometry needs ${geom.nW}`);
    } else {
      const d = unit.dense!;
      operator = new FullyConnectedOperator(d.inFeatures, d.outFeatures);
      channelSize = 1;
      outChannels = d.outFeatures;
      if (kernel.length !== d.inFeatures * d.outFeatures) fail(`kernel has ${kernel.length} entries, expected ${d.outFeatures}×${d.inFeatures}`);
    }
    const inSize = operator instanceof ConvOperator ? operator.geom.nX : operator.nX;
    if (this.slotSizes[x] !== inSize) fail(`reads ${this.slotSizes[x]} entries, expected ${inSize}`);

    // Eval batch norm absorbed by the unit: the sole reader of the conv output (units.ts absorbFollowers).
    const nextId = unit.folded[0];
    const next = nextId !== undefined ? this.nodeById.get(nextId) : undefined;
    const bn =
      next &&
      next.op === 'batchNorm' &&
      next.inputs[0] === node.outputs[0] &&
      (this.consumers.get(node.outputs[0]) ?? 0) === 1 &&
      !this.graph.outputs.some((o) => o.name === node.outputs[0])
        ? next
        : undefined;
    const convBias = node.weights.bias;
    const rawBias = convBias?.load();
    if (rawBias && rawBias.length !== outChannels) fail(`bias has ${rawBias.length} entries for ${outChannels} channels`);
    let bias: Float64Array | undefined = rawBias ? rawBias.slice() : undefined;
    const params: AffineParameters = { kernel: node.weights.kernel!, convBias };
    if (bn) {
      const eps = bn.attrs.kind === 'norm' ? bn.attrs.epsilon : 1e-5;
      const gamma = bn.weights.scale?.load();
      const beta = bn.weights.bias?.load();
      const mean = bn.weights.mean?.load();
      const variance = bn.weights.variance?.load();
      const factor = new Float64Array(outChannels);
      const invStd = new Float64Array(outChannels);
      const centred = new Float64Array(outChannels);
      bias = new Float64Array(outChannels);
      for (let c = 0; c < outChannels; c++) {
        invStd[c] = 1 / Math.sqrt((variance ? variance[c] : 1) + eps);
        factor[c] = (gamma ? gamma[c] : 1) * invStd[c];
        centred[c] = (rawBias ? rawBias[c] : 0) - (mean ? mean[c] : 0);
        bias[c] = centred[c] * factor[c] + (beta ? beta[c] : 0);
      }
      params.batchNorm = { scale: bn.weights.scale, bias: bn.weights.bias, factor, invStd, centred, rawKernel: node.weights.kernel!.load() };
      absorbed.add(bn.id);
    }
    const zName = bn ? bn.outputs[0] : node.outputs[0];
    const z = this.newSlot(zName, affineOutputSize(operator));
    if (bn) this.slotOf.set(node.outputs[0], z); // nothing else reads it (sole consumer)
    const op = new AffineOp(node.id, x, z, operator, kernel, bias, channelSize);
    this.push(op, unit);
    this.parameters.set(unit.id, params);

    const actId = unit.activation?.nodeId;
    const act = actId !== undefined ? this.nodeById.get(actId) : undefined;
    if (act && act.inputs[0] === zName) {
      const y = this.newSlot(act.outputs[0], affineOutputSize(operator));
      this.push(this.activationOp(act, z, y, fail), unit);
      absorbed.add(act.id);
    }
  }

  private activationOp(node: LayerNode, x: number, y: number, fail: (why: string) => never): ActivationOp {
    if (node.attrs.kind !== 'activation') fail('no activation attributes');
    const attrs = node.attrs as Extract<LayerNode['attrs'], { kind: 'activation' }>;
    const size = this.slotSizes[x];
    if (attrs.activation === 'prelu') {
      const slopeWeight = node.weights.slope;
      if (!slopeWeight) fail('PReLU without a slope tensor');
      const slope = slopeWeight!.load();
      const slopeIndex = broadcastIndex(slopeWeight!.shape, node.inputShapes[0], fail);
      const expanded = new Float64Array(size);
      for (let k = 0; k < size; k++) expanded[k] = slope[slopeIndex[k]];
      return new ActivationOp(node.id, x, y, size, activationMath(attrs, expanded), { slopeIndex, slopeSize: slope.length });
    }
    return new ActivationOp(node.id, x, y, size, activationMath(attrs));
  }

  private emitConstantOp(node: LayerNode, operand: WeightTensor, unit: Unit | undefined, fail: (why: string) => never): void {
    const x = this.read(node, 0);
    const outShape = node.outputShapes[0];
    const size = sizeOf(outShape);
    if (this.slotSizes[x] !== size) fail('the constant broadcasts the activation to a larger shape');
    const values = operand.load();
    const index = broadcastIndex(operand.shape, outShape, fail);
    const c = new Float64Array(size);
    for (let k = 0; k < size; k++) c[k] = values[index[k]];
    const constantFirst = (node.note ?? '').includes('constant is the left operand');
    const y = this.newSlot(node.outputs[0], size);
    const scale = new Float64Array(size);
    const shift = new Float64Array(size);
    switch (node.op) {
      case 'add':
        scale.fill(1);
        shift.set(c);
        break;
      case 'sub':
        for (let k = 0; k < size; k++) [scale[k], shift[k]] = constantFirst ? [-1, c[k]] : [1, -c[k]];
        break;
      case 'mul':
        scale.set(c);
        break;
      case 'div':
        if (constantFirst) {
          this.push(new ReciprocalOp(node.id, x, y, c), unit);
          return;
        }
        for (let k = 0; k < size; k++) scale[k] = 1 / c[k];
        break;
    }
    this.push(new ElementAffineOp(node.id, x, y, scale, shift), unit);
  }
}
