// The part of the attack network from one unit's input to the logits, with the second-order sweep the
// gradient-matching correction (docs/algorithm.md §5.6) runs thousands of times.
import type { SharedGradients } from '../types';
import { AffineOp } from './affineOp';
import { softmaxCrossEntropy } from './loss';
import { allocateSlots, type AdjointState, type RunState } from './op';
import type { Plan } from './plan';

/** Scratch buffers of a sub-network, reused across evaluations (the correction step calls it thousands of times). */
export interface SubNetworkWorkspace {
  readonly state: RunState;
  readonly adjoint: AdjointState;
  readonly probabilities: Float64Array;
  /** ∂ℓ/∂θ per parameter unit of the sub-network, filled by `lossAndGradients`. */
  readonly gradients: SharedGradients;
  /** Slots whose δ the backward pass computes (all but the source). */
  readonly need: Uint8Array;
  /** Every slot (the second-order sweep needs the source's cotangent too). */
  readonly all: Uint8Array;
}

/**
 * The part of the network from one unit's input to the logits. The units after that unit must only read what the
 * sub-network computes (a chain, or blocks whose skips stay inside it).
 */
export class SubNetwork {
  readonly unitId: string;
  /** Size of the unit's input (the unknown of the correction step). */
  readonly inputSize: number;
  /** The unit's input as [C, H, W] when it is an image-like tensor (for total variation), else undefined. */
  readonly inputImageShape: [number, number, number] | undefined;
  /** Units with parameters (conv/dense), in forward order. */
  readonly parameterUnits: string[];
  private readonly plan: Plan;
  private readonly affineOps: AffineOp[];

  constructor(unitId: string, plan: Plan, inputImageShape: [number, number, number] | undefined) {
    this.unitId = unitId;
    this.plan = plan;
    this.inputSize = plan.slotSizes[plan.source];
    this.inputImageShape = inputImageShape;
    this.affineOps = plan.ops.filter((op): op is AffineOp => op instanceof AffineOp);
    this.parameterUnits = this.affineOps.map((op) => op.unitId);
  }

  createWorkspace(): SubNetworkWorkspace {
    const sizes = this.plan.slotSizes;
    const used = new Uint8Array(sizes.length);
    used[this.plan.source] = 1;
    for (const op of this.plan.ops) used[op.output] = 1;
    const need = used.slice();
    need[this.plan.source] = 0;
    const gradients: SharedGradients = new Map();
    for (const op of this.affineOps) {
      gradients.set(op.unitId, { kernel: new Float64Array(op.kernel.length), bias: op.bias ? new Float64Array(op.bias.length) : undefined });
    }
    return {
      // aux is indexed by the op's index in the whole network's plan
      state: { values: allocateSlots(sizes, used), deltas: allocateSlots(sizes, used), aux: [] },
      adjoint: { dbar: allocateSlots(sizes, used), pbar: allocateSlots(sizes, used) },
      probabilities: new Float64Array(sizes[this.plan.logits]),
      gradients,
      need,
      all: used,
    };
  }

  /** Logits of the sub-network for input x. */
  forward(x: Float64Array, ws: SubNetworkWorkspace = this.createWorkspace()): Float64Array {
    this.runForward(x, ws);
    return ws.state.values[this.plan.logits].slice();
  }

  /** Forward and backward pass: returns the loss and fills `ws.gradients` with ∂ℓ/∂θ of every parameter unit. */
  lossAndGradients(x: Float64Array, label: number, ws: SubNetworkWorkspace): number {
    this.runForward(x, ws);
    const s = ws.state;
    for (const op of this.plan.ops) s.deltas[op.output].fill(0);
    const loss = softmaxCrossEntropy(s.values[this.plan.logits], label, ws.probabilities, s.deltas[this.plan.logits]);
    const ops = this.plan.ops;
    for (let k = ops.length - 1; k >= 0; k--) {
      const op = ops[k];
      if (op instanceof AffineOp) {
        const g = ws.gradients.get(op.unitId)!;
        op.parameterGradients(s, g.kernel, g.bias);
      }
      op.backward(s, ws.need);
    }
    return loss;
  }

  /**
   * After `lossAndGradients(x, …, ws)`: writes ∂/∂x Σ_θ ⟨c_θ, ∂ℓ/∂θ(x)⟩ into `out` (double backprop), for cotangents
   * c_θ given per parameter unit (kernel and optional bias; a missing unit counts as zero).
   */
  gradientOfParameterGradients(ws: SubNetworkWorkspace, cotangents: SharedGradients, out: Float64Array): void {
    const s = ws.state;
    const a = ws.adjoint;
    const ops = this.plan.ops;
    const source = this.plan.source;
    a.dbar[source].fill(0);
    a.pbar[source].fill(0);
    for (const op of ops) {
      a.dbar[op.output].fill(0);
      a.pbar[op.output].fill(0);
    }
    // Reverse of the backward pass, in forward order: each slot's d̄ is complete once its producer has run.
    for (const op of ops) {
      op.adjointBackward(s, a, ws.need);
      if (op instanceof AffineOp) {
        const c = cotangents.get(op.unitId);
        if (c) op.adjointParameterGradients(s, a, c.kernel, c.bias);
      }
    }
    // δlogits = p − e_y: ∂/∂z of ⟨d̄, p⟩ = (diag p − p pᵀ) d̄.
    const p = ws.probabilities;
    const dbarLogits = a.dbar[this.plan.logits];
    const pbarLogits = a.pbar[this.plan.logits];
    let pd = 0;
    for (let k = 0; k < p.length; k++) pd += p[k] * dbarLogits[k];
    for (let k = 0; k < p.length; k++) pbarLogits[k] += p[k] * (dbarLogits[k] - pd);
    // Reverse of the forward pass, with the primal cotangents p̄ as seeds.
    const adjointRun: RunState = { values: s.values, deltas: a.pbar, aux: s.aux };
    for (let k = ops.length - 1; k >= 0; k--) ops[k].backward(adjointRun, ws.all);
    out.set(a.pbar[source]);
  }

  private runForward(x: Float64Array, ws: SubNetworkWorkspace): void {
    if (x.length !== this.inputSize) throw new RangeError(`sub-network from ${this.unitId}: input has ${x.length} entries, expected ${this.inputSize}`);
    ws.state.values[this.plan.source].set(x);
    for (const op of this.plan.ops) op.forward(ws.state);
  }
}
