// The float64 executable view of a model for the reconstruction attack (docs/algorithm.md §1, §3, §5): forward pass,
// softmax cross-entropy training step, the gradients a federated client would share, and — for the gradient-matching
// correction (§5.6) — the sub-network from a unit's input to the logits with a hand-written second-order sweep.
//
// Execution follows the IR tensors (residual and concat branches stay exact; nodes the logits do not depend on, such as
// probe outputs, are skipped) but parameters follow the analysis units: a conv/dense node runs with its unit's
// effective kernel and bias (eval batch norm folded in), followed by the activation the unit absorbed. Everything is
// batch 1, flat NCHW, Float64Array. The parts: plan.ts (the plan types), planBuilder.ts (IR → plan), the ops (op.ts
// and its kinds), indexMaps.ts, loss.ts and subNetwork.ts.
import type { NamedTensor } from '../../readers/safetensors';
import type { LayerGraph, Shape, WeightTensor } from '../../ir';
import { sizeOf } from '../../ir';
import { buildAnalysisGraph, type AnalysisGraph, type Unit } from '../../analysis/units';
import type { ForwardTrace, SharedGradients, TrainingStep, UnitGradients } from '../types';
import { AffineOp } from './affineOp';
import { ActivationOp, ElementAffineOp } from './elementwiseOps';
import { softmaxCrossEntropy } from './loss';
import { addInto, allocateSlots, type RunState } from './op';
import type { AffineParameters, Plan, PlanOp, UnitSlots } from './plan';
import { PlanBuilder } from './planBuilder';
import { AttackSetupError } from './setupError';
import { SubNetwork } from './subNetwork';

interface TraceInternals {
  state: RunState;
}

interface StepInternals {
  deltas: Float64Array[];
}

export class AttackNetwork {
  readonly graph: LayerGraph;
  readonly analysis: AnalysisGraph;
  /** Units that contribute to the logits, in topological order (input → output). */
  readonly order: Unit[];
  readonly logitsUnit: Unit;
  readonly inputShape: [number, number, number];
  readonly classes: number;

  /** The execution plan (plan.ts): ops over slots, from the model input to the logits. Read only. */
  readonly plan: Plan;
  private readonly unitSlots = new Map<string, UnitSlots>();
  private readonly affineByUnit = new Map<string, AffineOp>();
  private readonly parameters = new Map<string, AffineParameters>();
  private readonly traces = new WeakMap<ForwardTrace, TraceInternals>();
  private readonly steps = new WeakMap<TrainingStep, StepInternals>();
  private readonly subNetworks = new Map<string, SubNetwork>();

  private constructor(graph: LayerGraph, analysis: AnalysisGraph) {
    this.graph = graph;
    this.analysis = analysis;
    const built = new PlanBuilder(graph, analysis).build();
    this.plan = built.plan;
    this.order = built.order;
    this.logitsUnit = built.logitsUnit;
    this.inputShape = built.inputShape;
    this.classes = this.plan.slotSizes[this.plan.logits];
    for (const [id, slots] of built.unitSlots) this.unitSlots.set(id, slots);
    for (const [id, p] of built.parameters) this.parameters.set(id, p);
    for (const op of this.plan.ops) if (op instanceof AffineOp) this.affineByUnit.set(op.unitId, op);
  }

  /** Builds the analysis graph of `graph` and checks that every unit on the way to the logits can run. */
  static fromGraph(graph: LayerGraph): AttackNetwork {
    return new AttackNetwork(graph, buildAnalysisGraph(graph));
  }

  /** Effective kernel of a conv/dense unit (BN folded; OIHW / [out, in]). The network's own array: do not modify. */
  kernel(unitId: string): Float64Array {
    return this.affine(unitId).kernel;
  }

  /** Effective bias ((b − μ)·γ/√(v+ε) + β with BN folded); undefined when the unit has none. The network's own array. */
  bias(unitId: string): Float64Array | undefined {
    return this.affine(unitId).bias;
  }

  /** Units with parameters (conv/dense) in forward order. */
  get parameterUnits(): string[] {
    return [...this.affineByUnit.keys()];
  }

  forward(x: Float64Array): ForwardTrace {
    const state = this.run(x);
    const trace: ForwardTrace = {
      input: state.values[this.plan.source],
      preActivation: new Map(),
      output: new Map(),
      logits: state.values[this.plan.logits],
    };
    for (const [id, slots] of this.unitSlots) {
      trace.preActivation.set(id, state.values[slots.pre]);
      trace.output.set(id, state.values[slots.out]);
    }
    this.traces.set(trace, { state });
    return trace;
  }

  /** Logits only. */
  logits(x: Float64Array): Float64Array {
    return this.run(x).values[this.plan.logits];
  }

  /** Softmax cross-entropy loss of input x with a one-hot label. */
  loss(x: Float64Array, label: number): number {
    const logits = this.logits(x);
    return softmaxCrossEntropy(logits, label, new Float64Array(logits.length), new Float64Array(logits.length));
  }

  /** One simulated training step: forward, softmax cross-entropy with a one-hot label, backward. */
  trainingStep(x: Float64Array, label: number): { trace: ForwardTrace; step: TrainingStep; inputGradient: Float64Array } {
    const trace = this.forward(x);
    return { trace, ...this.backward(trace, label) };
  }

  /** The backward half of a training step, on a trace this network's `forward` produced. */
  backward(trace: ForwardTrace, label: number): { step: TrainingStep; inputGradient: Float64Array } {
    if (!Number.isInteger(label) || label < 0 || label >= this.classes) throw new RangeError(`label ${label} is not a class index (0…${this.classes - 1})`);
    const internals = this.traces.get(trace);
    if (!internals) throw new AttackSetupError('backward needs a trace produced by this network');
    const state = internals.state;
    const deltas = allocateSlots(this.plan.slotSizes);
    const probabilities = new Float64Array(this.classes);
    const loss = softmaxCrossEntropy(state.values[this.plan.logits], label, probabilities, deltas[this.plan.logits]);
    const run: RunState = { values: state.values, deltas, aux: state.aux };
    const need = new Uint8Array(deltas.length).fill(1);
    const gradients: SharedGradients = new Map();
    for (let k = this.plan.ops.length - 1; k >= 0; k--) {
      const op = this.plan.ops[k];
      if (op instanceof AffineOp) {
        const g: UnitGradients = { kernel: new Float64Array(op.kernel.length) };
        if (op.bias) g.bias = new Float64Array(op.bias.length);
        op.parameterGradients(run, g.kernel, g.bias);
        gradients.set(op.unitId, g);
      }
      op.backward(run, need);
    }
    const preActivationGrad = new Map<string, Float64Array>();
    for (const [id, slots] of this.unitSlots) preActivationGrad.set(id, deltas[slots.pre]);
    // Forward order in the map, as the units are listed.
    const ordered: SharedGradients = new Map();
    for (const u of this.order) if (gradients.has(u.id)) ordered.set(u.id, gradients.get(u.id)!);
    const step: TrainingStep = { loss, probabilities, gradients: ordered, preActivationGrad };
    this.steps.set(step, { deltas });
    return { step, inputGradient: deltas[this.plan.source] };
  }

  /** The value a unit reads in a forward pass (its first input). */
  unitInput(trace: ForwardTrace, unitId: string): Float64Array {
    const slots = this.slotsOf(unitId);
    const op = this.plan.ops[slots.firstOp];
    const internals = this.traces.get(trace) ?? { state: this.run(trace.input) };
    return internals.state.values[op.inputs[0]];
  }

  /** The sub-network from `unitId`'s input to the logits (cached). */
  subNetwork(unitId: string): SubNetwork {
    let sub = this.subNetworks.get(unitId);
    if (!sub) {
      sub = this.buildSubNetwork(unitId);
      this.subNetworks.set(unitId, sub);
    }
    return sub;
  }

  /**
   * Gradients as a federated client shares them: one tensor per original trainable parameter, named as in the model
   * file (WeightTensor.name), engine layout. Folded batch norm contributes its scale and offset; standalone batch
   * norm and PReLU slopes are included too. Parameters the file does not store (implicit BN defaults) are left out.
   */
  namedGradients(step: TrainingStep, trace: ForwardTrace): Map<string, NamedTensor> {
    const named = new Map<string, NamedTensor>();
    const put = (w: WeightTensor | undefined, values: Float64Array) => {
      if (!w || w.storage === 'implicit') return;
      const existing = named.get(w.name);
      if (existing && existing.values.length === values.length)
        addInto(existing.values, values); // shared weights
      else named.set(w.name, { shape: [...w.shape], values });
    };
    for (const [unitId, p] of this.parameters) {
      const g = step.gradients.get(unitId);
      if (!g) throw new AttackSetupError(`the training step has no gradient for ${unitId}`, unitId);
      const bn = p.batchNorm;
      if (!bn) {
        put(p.kernel, g.kernel.slice());
        if (p.convBias && g.bias) put(p.convBias, g.bias.slice());
        continue;
      }
      // W' = W·f, b' = (b − μ)·f + β with f = γ/√(v+ε): ∂W = G'·f, ∂b = g'·f, ∂β = g', ∂γ = Σ G'·W/√(v+ε) + g'(b − μ)/√(v+ε).
      const channels = bn.factor.length;
      const per = g.kernel.length / channels;
      const gw = new Float64Array(g.kernel.length);
      const gGamma = new Float64Array(channels);
      for (let c = 0; c < channels; c++) {
        const f = bn.factor[c];
        let s = 0;
        for (let j = c * per; j < (c + 1) * per; j++) {
          gw[j] = g.kernel[j] * f;
          s += g.kernel[j] * bn.rawKernel[j];
        }
        const gb = g.bias ? g.bias[c] : 0;
        gGamma[c] = (s + gb * bn.centred[c]) * bn.invStd[c];
      }
      put(p.kernel, gw);
      if (g.bias) {
        if (p.convBias)
          put(
            p.convBias,
            g.bias.map((v, c) => v * bn.factor[c]),
          );
        put(bn.bias, g.bias.slice());
      }
      put(bn.scale, gGamma);
    }
    // Parameters outside the affine units: PReLU slopes and standalone batch norm.
    const extra = this.plan.ops.filter((op) => (op instanceof ActivationOp && op.prelu) || (op instanceof ElementAffineOp && op.batchNorm));
    if (extra.length) {
      const internals = this.steps.get(step);
      const traced = this.traces.get(trace);
      if (!internals || !traced) throw new AttackSetupError('namedGradients needs the trace and step produced by this network (PReLU / batch-norm parameters)');
      const run: RunState = { values: traced.state.values, deltas: internals.deltas, aux: traced.state.aux };
      for (const op of extra) {
        const node = this.graph.nodes.find((n) => n.id === op.nodeId)!;
        if (op instanceof ActivationOp) put(node.weights.slope, op.slopeGradient(run));
        else if (op instanceof ElementAffineOp) {
          const g = op.batchNormGradients(run);
          put(node.weights.scale, g.scale);
          put(node.weights.bias, g.bias);
        }
      }
    }
    return named;
  }

  /**
   * Per-unit effective gradients from named ones (the inverse of `namedGradients`): G' = ∂W / f per output channel and
   * g' = ∂β (or ∂b / f when the offset is not shared) for folded batch norm. Throws AttackSetupError naming the missing
   * or mis-shaped parameter.
   */
  sharedGradientsFromNamed(named: Map<string, NamedTensor>): SharedGradients {
    const take = (w: WeightTensor, unitId: string): Float64Array => {
      const t = named.get(w.name);
      if (!t) throw new AttackSetupError(`no gradient for parameter "${w.name}" of ${unitId}`, unitId);
      if (!sameShape(t.shape, w.shape) || t.values.length !== sizeOf(w.shape)) {
        throw new AttackSetupError(`gradient of "${w.name}" has shape [${t.shape.join(', ')}], expected [${w.shape.join(', ')}]`, unitId);
      }
      return t.values;
    };
    const stored = (w: WeightTensor | undefined): boolean => w !== undefined && w.storage !== 'implicit';
    const has = (w: WeightTensor | undefined): boolean => stored(w) && named.has(w!.name);
    const shared: SharedGradients = new Map();
    for (const u of this.order) {
      const p = this.parameters.get(u.id);
      if (!p) continue;
      const op = this.affineByUnit.get(u.id)!;
      const gw = take(p.kernel, u.id);
      const bn = p.batchNorm;
      const g: UnitGradients = { kernel: new Float64Array(gw.length) };
      if (!bn) {
        g.kernel.set(gw);
        if (op.bias) {
          if (!p.convBias) throw new AttackSetupError(`${u.id} has a bias but the model stores none`, u.id);
          g.bias = take(p.convBias, u.id).slice();
        }
      } else {
        const channels = bn.factor.length;
        const per = gw.length / channels;
        for (let c = 0; c < channels; c++) {
          const f = bn.factor[c];
          if (f === 0) throw new AttackSetupError(`batch-norm scale of channel ${c} of ${u.id} is 0: the kernel gradient cannot be unfolded`, u.id);
          for (let j = c * per; j < (c + 1) * per; j++) g.kernel[j] = gw[j] / f;
        }
        if (has(bn.bias)) g.bias = take(bn.bias!, u.id).slice();
        else if (has(p.convBias)) g.bias = take(p.convBias!, u.id).map((v, c) => v / bn.factor[c]);
        else if (stored(bn.bias)) take(bn.bias!, u.id); // throws naming the missing offset
      }
      shared.set(u.id, g);
    }
    return shared;
  }

  private affine(unitId: string): AffineOp {
    const op = this.affineByUnit.get(unitId);
    if (!op) throw new AttackSetupError(`${unitId} is not a conv/dense unit of this network`, unitId);
    return op;
  }

  private slotsOf(unitId: string): UnitSlots {
    const slots = this.unitSlots.get(unitId);
    if (!slots) throw new AttackSetupError(`unknown unit ${unitId}`, unitId);
    return slots;
  }

  private run(x: Float64Array): RunState {
    const [c, h, w] = this.inputShape;
    if (x.length !== c * h * w) throw new RangeError(`input has ${x.length} entries, expected ${c}×${h}×${w} = ${c * h * w}`);
    const values = allocateSlots(this.plan.slotSizes);
    values[this.plan.source].set(x);
    const state: RunState = { values, deltas: [], aux: new Array(this.plan.ops.length).fill(undefined) };
    for (const op of this.plan.ops) op.forward(state);
    return state;
  }

  private buildSubNetwork(unitId: string): SubNetwork {
    const slots = this.slotsOf(unitId);
    const first = this.plan.ops[slots.firstOp];
    const unit = this.order.find((u) => u.id === unitId)!;
    if (first.inputs.length !== 1) throw new AttackSetupError(`${unitId} reads ${first.inputs.length} tensors: the sub-network needs a single input`, unitId);
    const source = first.inputs[0];
    // Ops that lead to the logits from the source only.
    const ops = this.plan.ops.slice(slots.firstOp);
    const produced = new Set<number>([source]);
    const needed = new Set<number>([this.plan.logits]);
    const kept: PlanOp[] = [];
    for (let k = ops.length - 1; k >= 0; k--) {
      const op = ops[k];
      if (!needed.has(op.output)) continue;
      kept.unshift(op);
      for (const i of op.inputs) needed.add(i);
    }
    for (const op of kept) {
      for (const i of op.inputs) {
        if (!produced.has(i)) {
          throw new AttackSetupError(`the network after ${unitId} is not a chain: ${op.nodeId} reads a tensor computed before ${unitId}`, unitId);
        }
      }
      produced.add(op.output);
    }
    let image: [number, number, number] | undefined;
    if (unit.kind === 'conv' && unit.conv) image = [unit.conv.inChannels, unit.conv.height, unit.conv.width];
    else if (unit.inputShape.length === 4) image = [unit.inputShape[1], unit.inputShape[2], unit.inputShape[3]];
    return new SubNetwork(unitId, { ops: kept, slotSizes: this.plan.slotSizes, source, logits: this.plan.logits }, image);
  }
}

function sameShape(a: number[], b: Shape): boolean {
  const squeeze = (s: readonly number[]) => s.filter((d) => d !== 1);
  if (a.length === b.length && a.every((d, i) => d === b[i])) return true;
  const sa = squeeze(a);
  const sb = squeeze(b);
  return sa.length === sb.length && sa.every((d, i) => d === sb[i]);
}
