// Element-wise ops: activations (PReLU with its slope gradient), y = a·x + t (standalone batch norm, arithmetic with a
// constant) and y = c / x.
import type { ActivationMath } from '../activationMath';
import { Op, type AdjointState, type RunState } from './op';

/** y_k = σ(x_k) with σ from activationMath (PReLU: `slopeIndex` is the element's slope; others use 0). */
export class ActivationOp extends Op {
  readonly kind = 'activation' as const;
  constructor(
    nodeId: string,
    input: number,
    output: number,
    size: number,
    readonly math: ActivationMath,
    /** PReLU only: the expanded slope values (one per element) and the slope entry each element uses. */
    readonly prelu?: { slopeIndex: Int32Array; slopeSize: number },
  ) {
    super(nodeId, [input], output, size);
  }
  private channel(k: number): number {
    return this.prelu ? k : 0;
  }
  forward(s: RunState): void {
    const x = s.values[this.inputs[0]];
    const y = s.values[this.output];
    const m = this.math;
    if (this.prelu) for (let k = 0; k < y.length; k++) y[k] = m.value(x[k], k);
    else for (let k = 0; k < y.length; k++) y[k] = m.value(x[k], 0);
  }
  backward(s: RunState, need: Uint8Array): void {
    const xi = this.inputs[0];
    if (!need[xi]) return;
    const x = s.values[xi];
    const dy = s.deltas[this.output];
    const dx = s.deltas[xi];
    const m = this.math;
    for (let k = 0; k < dx.length; k++) dx[k] += dy[k] * m.derivative(x[k], this.channel(k));
  }
  adjointBackward(s: RunState, a: AdjointState): void {
    // δx = δy ⊙ σ'(x): d̄y += d̄x ⊙ σ'(x), p̄x += d̄x ⊙ δy ⊙ σ''(x).
    const xi = this.inputs[0];
    const x = s.values[xi];
    const dy = s.deltas[this.output];
    const dbx = a.dbar[xi];
    const dby = a.dbar[this.output];
    const pbx = a.pbar[xi];
    const m = this.math;
    for (let k = 0; k < dbx.length; k++) {
      const d = dbx[k];
      if (d === 0) continue;
      const ch = this.channel(k);
      dby[k] += d * m.derivative(x[k], ch);
      const second = m.secondDerivative(x[k], ch);
      if (second !== 0) pbx[k] += d * dy[k] * second;
    }
  }
  /** PReLU: ∂ℓ/∂slope_j = Σ_{k: slope j, x_k < 0} δy_k x_k. */
  slopeGradient(s: RunState): Float64Array {
    const p = this.prelu!;
    const x = s.values[this.inputs[0]];
    const dy = s.deltas[this.output];
    const g = new Float64Array(p.slopeSize);
    for (let k = 0; k < x.length; k++) if (x[k] < 0) g[p.slopeIndex[k]] += dy[k] * x[k];
    return g;
  }
}

/** y_k = a_k x_k + t_k (eval batch norm on its own, add/sub/mul/div by a constant). */
export class ElementAffineOp extends Op {
  readonly kind = 'elementAffine' as const;
  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly scale: Float64Array,
    readonly shift: Float64Array,
    /** Standalone batch norm: per element channel and x̂ = (x − μ)/√(v+ε) factors, for the γ/β gradients. */
    readonly batchNorm?: { channelOf: Int32Array; channels: number; mean: Float64Array; invStd: Float64Array },
  ) {
    super(nodeId, [input], output, scale.length);
  }
  forward(s: RunState): void {
    const x = s.values[this.inputs[0]];
    const y = s.values[this.output];
    for (let k = 0; k < y.length; k++) y[k] = this.scale[k] * x[k] + this.shift[k];
  }
  backward(s: RunState, need: Uint8Array): void {
    const xi = this.inputs[0];
    if (!need[xi]) return;
    const dy = s.deltas[this.output];
    const dx = s.deltas[xi];
    for (let k = 0; k < dx.length; k++) dx[k] += this.scale[k] * dy[k];
  }
  adjointBackward(_s: RunState, a: AdjointState): void {
    const dbx = a.dbar[this.inputs[0]];
    const dby = a.dbar[this.output];
    for (let k = 0; k < dbx.length; k++) dby[k] += this.scale[k] * dbx[k];
  }
  /** Standalone batch norm: ∂ℓ/∂γ_c = Σ δy·x̂, ∂ℓ/∂β_c = Σ δy. */
  batchNormGradients(s: RunState): { scale: Float64Array; bias: Float64Array } {
    const bn = this.batchNorm!;
    const x = s.values[this.inputs[0]];
    const dy = s.deltas[this.output];
    const scale = new Float64Array(bn.channels);
    const bias = new Float64Array(bn.channels);
    for (let k = 0; k < x.length; k++) {
      const c = bn.channelOf[k];
      scale[c] += dy[k] * (x[k] - bn.mean[c]) * bn.invStd[c];
      bias[c] += dy[k];
    }
    return { scale, bias };
  }
}

/** y_k = c_k / x_k (a constant divided by the activation). */
export class ReciprocalOp extends Op {
  readonly kind = 'reciprocal' as const;
  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly numerator: Float64Array,
  ) {
    super(nodeId, [input], output, numerator.length);
  }
  forward(s: RunState): void {
    const x = s.values[this.inputs[0]];
    const y = s.values[this.output];
    for (let k = 0; k < y.length; k++) y[k] = this.numerator[k] / x[k];
  }
  backward(s: RunState, need: Uint8Array): void {
    const xi = this.inputs[0];
    if (!need[xi]) return;
    const x = s.values[xi];
    const dy = s.deltas[this.output];
    const dx = s.deltas[xi];
    for (let k = 0; k < dx.length; k++) dx[k] -= (dy[k] * this.numerator[k]) / (x[k] * x[k]);
  }
  adjointBackward(s: RunState, a: AdjointState): void {
    const xi = this.inputs[0];
    const x = s.values[xi];
    const dy = s.deltas[this.output];
    const dbx = a.dbar[xi];
    const dby = a.dbar[this.output];
    const pbx = a.pbar[xi];
    for (let k = 0; k < dbx.length; k++) {
      const c = this.numerator[k];
      const xk = x[k];
      dby[k] -= (dbx[k] * c) / (xk * xk);
      pbx[k] += (2 * dbx[k] * dy[k] * c) / (xk * xk * xk);
    }
  }
}
