// The passes of the gradient graph over the lowered layers, shared by the objectives built on them: the forward
// pass, softmax cross-entropy and the backward pass with the parameter gradients g(x), and the gradient of a linear
// function of those gradients, ∂/∂x Σ_θ ⟨c_θ, g_θ(x)⟩, by the reverse of the backward pass (forward order, carrying
// d̄, the cotangent of each δ, and collecting p̄, the cotangent of each value), the softmax curvature at the logits,
// and a last backward pass seeded with p̄ (network.ts's gradientOfParameterGradients, written as graph nodes).
// Inverting Gradients takes c_θ from its cosine; the identifiability rank takes c_θ = u, fed, for Jᵀu.
import { AttackSetupError } from '../attack/network/setupError';
import type { GradientOp, ParameterBlock } from './gradientOp';
import type { LoweredNetwork } from './lowering';
import { sizeOfShape, type GraphWriter, type Value } from './onnxWriter';

/** The parameter tensors an objective runs over, once each (a weight shared by two layers is one tensor), in graph order. */
export function selectBlocks(lowered: LoweredNetwork, names: readonly string[] | undefined): ParameterBlock[] {
  const all = new Map<string, ParameterBlock>();
  for (const op of lowered.ops) for (const b of op.parameters) if (!all.has(b.name)) all.set(b.name, b);
  if (!names) {
    if (all.size === 0) throw new AttackSetupError('the network has no trainable parameters after the source: there is no parameter gradient');
    return [...all.values()];
  }
  const unknown = names.filter((n) => !all.has(n));
  if (unknown.length) throw new AttackSetupError(`no trainable tensor named ${unknown.join(', ')} after the source (known: ${[...all.keys()].join(', ')})`);
  if (names.length === 0) throw new AttackSetupError('the objective needs at least one parameter tensor');
  return [...all.values()].filter((b) => names.includes(b.name));
}

/** Sums of contributions per slot, emitted once when first read. */
class Accumulator {
  private readonly parts = new Map<number, Value[]>();
  private readonly totals = new Map<number, Value | undefined>();
  constructor(private readonly w: GraphWriter) {}
  add(slot: number, value: Value | undefined): void {
    if (!value) return;
    if (this.totals.has(slot)) throw new Error(`internal: slot ${slot} read before all its contributions arrived`);
    const list = this.parts.get(slot) ?? [];
    list.push(value);
    this.parts.set(slot, list);
  }
  get(slot: number): Value | undefined {
    if (!this.totals.has(slot)) this.totals.set(slot, this.w.sum(this.parts.get(slot) ?? []));
    return this.totals.get(slot);
  }
}

/** The forward, backward, second-order and final passes over the lowered layers. */
export class GradientPasses {
  private readonly values: Value[] = [];
  private readonly deltas: Accumulator;
  private readonly gradients = new Map<string, Value[]>();
  private probabilities!: Value;
  private logitsFlat!: number[];

  constructor(
    private readonly w: GraphWriter,
    private readonly net: LoweredNetwork,
  ) {
    this.deltas = new Accumulator(w);
  }

  forward(x: Value): void {
    this.values[this.net.source] = x;
    for (const op of this.net.ops)
      this.values[op.output] = op.forward(
        this.w,
        op.inputs.map((s) => this.values[s]),
      );
  }

  /** Softmax cross-entropy at the logits, then δ of every slot and the parameter gradients. */
  backward(label: number): void {
    const w = this.w;
    const logits = this.values[this.net.logits];
    const classes = sizeOfShape(logits.shape);
    this.logitsFlat = [1, classes];
    this.probabilities = w.op('Softmax', [w.reshape(logits, this.logitsFlat)], this.logitsFlat, { axis: 1 });
    const oneHot = new Float32Array(classes);
    oneHot[label] = 1;
    this.deltas.add(this.net.logits, w.reshape(w.sub(this.probabilities, w.weight(oneHot, this.logitsFlat, 'one_hot')), logits.shape));
    const ops = this.net.ops;
    for (let k = ops.length - 1; k >= 0; k--) {
      const op = ops[k];
      const dy = this.deltas.get(op.output);
      if (!dy) throw new Error(`internal: ${op.nodeId} has no output gradient`);
      op.parameterGradients(w, dy).forEach((g, i) => {
        const name = op.parameters[i].name;
        this.gradients.set(name, [...(this.gradients.get(name) ?? []), g]);
      });
      const need = op.inputs.map((s) => s !== this.net.source);
      op.backward(w, dy, need).forEach((d, i) => this.deltas.add(op.inputs[i], d));
    }
  }

  parameterGradient(name: string): Value {
    return this.w.sum(this.gradients.get(name) ?? [])!;
  }

  /** ∂/∂x Σ_θ ⟨c_θ, g_θ(x)⟩ for cotangents by parameter name (absent: zero); undefined when it is zero. */
  gradientOfParameterGradients(cotangents: Map<string, Value>): Value | undefined {
    const w = this.w;
    const dbar = new Accumulator(w);
    const pbar = new Accumulator(w);
    // Reverse of the backward pass, in forward order: a slot's d̄ is complete once its producer has run.
    for (const op of this.net.ops) {
      const dx = op.inputs.map((s) => dbar.get(s));
      const dy = this.deltas.get(op.output)!;
      const step = op.reverseOfBackward(
        w,
        dx,
        dy,
        op.parameters.map((b) => cotangents.get(b.name)),
      );
      dbar.add(op.output, step.output);
      step.inputs.forEach((p, i) => pbar.add(op.inputs[i], p));
    }
    // δlogits = p − e_y: ∂/∂z ⟨d̄, p⟩ = p ⊙ d̄ − p ⟨p, d̄⟩.
    const d = dbar.get(this.net.logits);
    if (d) {
      const p = this.probabilities;
      const pd = w.mul(p, w.reshape(d, this.logitsFlat));
      const hessian = w.sub(pd, w.mul(p, w.reduceSum(pd, [1], true)));
      pbar.add(this.net.logits, w.reshape(hessian, d.shape));
    }
    // Reverse of the forward pass, seeded with p̄.
    const ops = this.net.ops;
    for (let k = ops.length - 1; k >= 0; k--) {
      const op: GradientOp = ops[k];
      const py = pbar.get(op.output);
      if (!py) continue;
      op.backward(
        w,
        py,
        op.inputs.map(() => true),
      ).forEach((p, i) => pbar.add(op.inputs[i], p));
    }
    return pbar.get(this.net.source);
  }
}
