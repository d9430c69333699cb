// The float64 executable view of a model for the reconstruction attack (algorithm.md §1, §3, §5): forward pass,
// softmax cross-entropy training step, the gradients a federated client would share, and — for the gradient-matching
// correction (§5.6) — the sub-network from a unit's input to the logits with a hand-written second-order sweep.
//
// Execution follows the IR tensors (residual and concat branches stay exact; nodes the logits do not depend on, such as
// probe outputs, are skipped) but parameters follow the
// analysis units: a conv/dense node runs with its unit's effective kernel and bias (eval batch norm folded in),
// followed by the activation the unit absorbed. Everything is batch 1, flat NCHW, Float64Array.
//
// Every op implements three maps, which is all the first- and second-order passes need:
//   forward            y = f(x)
//   backward           δx += B(δy; x)            (B = Jᵀ, the usual reverse step)
//   adjointBackward    d̄y += Bᵀ d̄x, p̄x += ∂/∂x ⟨d̄x, B(δy; x)⟩   (reverse of the reverse step)
// Affine ops add their parameter gradient P(δy; x) = K(δy) x and its adjoint.
import type { NamedTensor } from '../../readers/safetensors';
import type { ConvAttrs, LayerGraph, LayerNode, Shape, WeightTensor } from '../../ir';
import { sizeOf } from '../../ir';
import { buildAnalysisGraph, type AnalysisGraph, type Unit } from '../../analysis/units';
import { ConvOperator, FullyConnectedOperator } from '../../numerics/convOperators';
import { convGeometryFromAttrs } from '../../numerics/convGeometry';
import { activationMath, type ActivationMath } from '../activationMath';
import type { ForwardTrace, SharedGradients, TrainingStep, UnitGradients } from '../types';

/** The model (or one unit of it) cannot be executed by the attack's float64 network. */
export class AttackSetupError extends Error {
  readonly unitId?: string;
  constructor(message: string, unitId?: string) {
    super(message);
    this.name = 'AttackSetupError';
    this.unitId = unitId;
  }
}

/** A gradient tensor as a client shares it (engine layout: OIHW / [out, in]); one definition, in the safetensors reader. */
export type { NamedTensor } from '../../readers/safetensors';

// ---------------------------------------------------------------------------------------------------------------
// Ops

/** Per-run buffers, indexed by slot (one slot per IR tensor that is computed). */
interface RunState {
  values: Float64Array[];
  /** δ (first-order adjoints) per slot. */
  deltas: Float64Array[];
  /** Per-op data of a forward pass that the backward needs (max-pool routing). */
  aux: (Int32Array | undefined)[];
}

/** Second-order buffers: d̄ (cotangent of δ) and p̄ (cotangent of the primal values) per slot. */
interface AdjointState {
  dbar: Float64Array[];
  pbar: Float64Array[];
}

abstract class Op {
  /** Index of the op in the plan (set by the plan builder). */
  index = -1;
  /** Unit this op belongs to ('' for ops on the model input before any unit). */
  unitId = '';
  constructor(
    readonly nodeId: string,
    readonly inputs: number[],
    readonly output: number,
    readonly outSize: number,
  ) {}
  abstract forward(s: RunState): void;
  /** δ[inputs] += B(δ[output]); inputs whose `need` entry is false are skipped. */
  abstract backward(s: RunState, need: Uint8Array): void;
  /**
   * d̄[output] += Bᵀ d̄[inputs]; p̄[inputs] += ∂/∂x ⟨d̄[inputs], B(δ[output]; x)⟩. Inputs whose `need` entry is 0 have a
   * zero d̄ (ops may skip them).
   */
  abstract adjointBackward(s: RunState, a: AdjointState, need?: Uint8Array): void;
}

function outputSize(op: ConvOperator | FullyConnectedOperator): number {
  return op instanceof ConvOperator ? op.geom.nZ : op.nZ;
}

function addInto(target: Float64Array, source: Float64Array): void {
  for (let i = 0; i < target.length; i++) target[i] += source[i];
}

/** Conv or dense with the unit's effective kernel and bias: z = W x + b. */
class AffineOp extends Op {
  private scratchIn: Float64Array;
  private scratchOut: Float64Array;
  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly operator: ConvOperator | FullyConnectedOperator,
    readonly kernel: Float64Array,
    readonly bias: Float64Array | undefined,
    /** Output entries per channel (H_o·W_o for conv, 1 for dense). */
    readonly channelSize: number,
  ) {
    super(nodeId, [input], output, outputSize(operator));
    this.scratchIn = new Float64Array(operator instanceof ConvOperator ? operator.geom.nX : operator.nX);
    this.scratchOut = new Float64Array(outputSize(operator));
  }
  get inSize(): number {
    return this.scratchIn.length;
  }
  forward(s: RunState): void {
    const z = s.values[this.output];
    this.operator.forward(this.kernel, s.values[this.inputs[0]], z);
    const b = this.bias;
    if (!b) return;
    const cs = this.channelSize;
    for (let c = 0; c < b.length; c++) {
      const bc = b[c];
      for (let k = c * cs, end = k + cs; k < end; k++) z[k] += bc;
    }
  }
  backward(s: RunState, need: Uint8Array): void {
    const x = this.inputs[0];
    if (!need[x]) return;
    this.operator.forwardTranspose(this.kernel, s.deltas[this.output], this.scratchIn);
    addInto(s.deltas[x], this.scratchIn);
  }
  /** ∂ℓ/∂W = K(δz) x and ∂ℓ/∂b = Σ_spatial δz. */
  parameterGradients(s: RunState, kernelOut: Float64Array, biasOut: Float64Array | undefined): void {
    const dz = s.deltas[this.output];
    this.operator.gradient(dz, s.values[this.inputs[0]], kernelOut);
    if (!biasOut) return;
    const cs = this.channelSize;
    for (let c = 0; c < biasOut.length; c++) {
      let sum = 0;
      for (let k = c * cs, end = k + cs; k < end; k++) sum += dz[k];
      biasOut[c] = sum;
    }
  }
  adjointBackward(_s: RunState, a: AdjointState, need?: Uint8Array): void {
    // δx = Wᵀ δz  ⇒  d̄z += W d̄x (no bias); B does not depend on x. The source's d̄ is zero: skip it.
    if (need && !need[this.inputs[0]]) return;
    this.operator.forward(this.kernel, a.dbar[this.inputs[0]], this.scratchOut);
    addInto(a.dbar[this.output], this.scratchOut);
  }
  /** Adjoint of the parameter gradient for cotangents (c_W, c_b): d̄z += conv(x; c_W) + c_b, p̄x += K(δz)ᵀ c_W. */
  adjointParameterGradients(s: RunState, a: AdjointState, cKernel: Float64Array, cBias: Float64Array | undefined): void {
    const x = this.inputs[0];
    this.operator.forward(cKernel, s.values[x], this.scratchOut);
    const dbar = a.dbar[this.output];
    addInto(dbar, this.scratchOut);
    if (cBias) {
      const cs = this.channelSize;
      for (let c = 0; c < cBias.length; c++) {
        const v = cBias[c];
        for (let k = c * cs, end = k + cs; k < end; k++) dbar[k] += v;
      }
    }
    this.operator.gradientTranspose(s.deltas[this.output], cKernel, this.scratchIn);
    addInto(a.pbar[x], this.scratchIn);
  }
}

/** y_k = σ(x_k) with σ from activationMath (PReLU: `slopeIndex` is the element's slope; others use 0). */
class ActivationOp extends Op {
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
class ElementAffineOp extends Op {
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
class ReciprocalOp extends Op {
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

/** y = x on the flat vector (flatten, reshape, dropout, identity, a trailing softmax). */
class IdentityOp extends Op {
  forward(s: RunState): void {
    s.values[this.output].set(s.values[this.inputs[0]]);
  }
  backward(s: RunState, need: Uint8Array): void {
    const xi = this.inputs[0];
    if (need[xi]) addInto(s.deltas[xi], s.deltas[this.output]);
  }
  adjointBackward(_s: RunState, a: AdjointState): void {
    addInto(a.dbar[this.output], a.dbar[this.inputs[0]]);
  }
}

/** y_k = x[source_k], or `fill` where source_k < 0 (transpose, pad). */
class GatherOp extends Op {
  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly source: Int32Array,
    readonly fill: number,
  ) {
    super(nodeId, [input], output, source.length);
  }
  forward(s: RunState): void {
    const x = s.values[this.inputs[0]];
    const y = s.values[this.output];
    for (let k = 0; k < y.length; k++) {
      const j = this.source[k];
      y[k] = j >= 0 ? x[j] : this.fill;
    }
  }
  backward(s: RunState, need: Uint8Array): void {
    const xi = this.inputs[0];
    if (!need[xi]) return;
    const dy = s.deltas[this.output];
    const dx = s.deltas[xi];
    for (let k = 0; k < dy.length; k++) {
      const j = this.source[k];
      if (j >= 0) dx[j] += dy[k];
    }
  }
  adjointBackward(_s: RunState, a: AdjointState): void {
    const dbx = a.dbar[this.inputs[0]];
    const dby = a.dbar[this.output];
    for (let k = 0; k < dby.length; k++) {
      const j = this.source[k];
      if (j >= 0) dby[k] += dbx[j];
    }
  }
}

/** Pooling windows as a CSR list: output k reads inputs index[start[k] .. start[k+1]). */
interface Windows {
  start: Int32Array;
  index: Int32Array;
}

/** Average pooling: y_k = w_k Σ_{j ∈ window k} x_j (w_k = 1/divisor). */
class AvgPoolOp extends Op {
  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly windows: Windows,
    readonly weight: Float64Array,
  ) {
    super(nodeId, [input], output, weight.length);
  }
  forward(s: RunState): void {
    const x = s.values[this.inputs[0]];
    const y = s.values[this.output];
    const { start, index } = this.windows;
    for (let k = 0; k < y.length; k++) {
      let sum = 0;
      for (let p = start[k]; p < start[k + 1]; p++) sum += x[index[p]];
      y[k] = sum * this.weight[k];
    }
  }
  backward(s: RunState, need: Uint8Array): void {
    const xi = this.inputs[0];
    if (!need[xi]) return;
    const dy = s.deltas[this.output];
    const dx = s.deltas[xi];
    const { start, index } = this.windows;
    for (let k = 0; k < dy.length; k++) {
      const v = dy[k] * this.weight[k];
      for (let p = start[k]; p < start[k + 1]; p++) dx[index[p]] += v;
    }
  }
  adjointBackward(_s: RunState, a: AdjointState): void {
    const dbx = a.dbar[this.inputs[0]];
    const dby = a.dbar[this.output];
    const { start, index } = this.windows;
    for (let k = 0; k < dby.length; k++) {
      let sum = 0;
      for (let p = start[k]; p < start[k + 1]; p++) sum += dbx[index[p]];
      dby[k] += sum * this.weight[k];
    }
  }
}

/** Max pooling; the forward pass records the winning input of each window (first maximum, as frameworks do). */
class MaxPoolOp extends Op {
  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly windows: Windows,
  ) {
    super(nodeId, [input], output, windows.start.length - 1);
  }
  forward(s: RunState): void {
    const x = s.values[this.inputs[0]];
    const y = s.values[this.output];
    const { start, index } = this.windows;
    const argmax = (s.aux[this.index] ??= new Int32Array(y.length));
    for (let k = 0; k < y.length; k++) {
      let best = -Infinity;
      let at = -1;
      for (let p = start[k]; p < start[k + 1]; p++) {
        const v = x[index[p]];
        if (v > best || at < 0) {
          best = v;
          at = index[p];
        }
      }
      y[k] = best;
      argmax[k] = at;
    }
  }
  backward(s: RunState, need: Uint8Array): void {
    const xi = this.inputs[0];
    if (!need[xi]) return;
    const argmax = s.aux[this.index]!;
    const dy = s.deltas[this.output];
    const dx = s.deltas[xi];
    for (let k = 0; k < dy.length; k++) if (argmax[k] >= 0) dx[argmax[k]] += dy[k];
  }
  adjointBackward(s: RunState, a: AdjointState): void {
    // The routing is piecewise constant in x: no primal term.
    const argmax = s.aux[this.index]!;
    const dbx = a.dbar[this.inputs[0]];
    const dby = a.dbar[this.output];
    for (let k = 0; k < dby.length; k++) if (argmax[k] >= 0) dby[k] += dbx[argmax[k]];
  }
}

/** y = Σ_i sign_i x_i (residual additions, subtraction of two branches). */
class SumOp extends Op {
  constructor(
    nodeId: string,
    inputs: number[],
    output: number,
    size: number,
    readonly signs: number[],
  ) {
    super(nodeId, inputs, output, size);
  }
  forward(s: RunState): void {
    const y = s.values[this.output];
    y.fill(0);
    this.inputs.forEach((slot, i) => {
      const x = s.values[slot];
      const sign = this.signs[i];
      for (let k = 0; k < y.length; k++) y[k] += sign * x[k];
    });
  }
  backward(s: RunState, need: Uint8Array): void {
    const dy = s.deltas[this.output];
    this.inputs.forEach((slot, i) => {
      if (!need[slot]) return;
      const dx = s.deltas[slot];
      const sign = this.signs[i];
      for (let k = 0; k < dy.length; k++) dx[k] += sign * dy[k];
    });
  }
  adjointBackward(_s: RunState, a: AdjointState): void {
    const dby = a.dbar[this.output];
    this.inputs.forEach((slot, i) => {
      const dbx = a.dbar[slot];
      const sign = this.signs[i];
      for (let k = 0; k < dby.length; k++) dby[k] += sign * dbx[k];
    });
  }
}

/** Concatenation along one axis: for each of `outer` blocks, input i contributes `inner[i]` contiguous entries. */
class ConcatOp extends Op {
  constructor(
    nodeId: string,
    inputs: number[],
    output: number,
    size: number,
    readonly outer: number,
    readonly inner: number[],
  ) {
    super(nodeId, inputs, output, size);
  }
  private each(visit: (input: number, from: number, to: number, length: number) => void): void {
    const total = this.inner.reduce((a, b) => a + b, 0);
    for (let o = 0; o < this.outer; o++) {
      let offset = o * total;
      for (let i = 0; i < this.inputs.length; i++) {
        const n = this.inner[i];
        visit(i, o * n, offset, n);
        offset += n;
      }
    }
  }
  forward(s: RunState): void {
    const y = s.values[this.output];
    this.each((i, from, to, n) => y.set(s.values[this.inputs[i]].subarray(from, from + n), to));
  }
  backward(s: RunState, need: Uint8Array): void {
    const dy = s.deltas[this.output];
    this.each((i, from, to, n) => {
      const slot = this.inputs[i];
      if (!need[slot]) return;
      const dx = s.deltas[slot];
      for (let k = 0; k < n; k++) dx[from + k] += dy[to + k];
    });
  }
  adjointBackward(_s: RunState, a: AdjointState): void {
    const dby = a.dbar[this.output];
    this.each((i, from, to, n) => {
      const dbx = a.dbar[this.inputs[i]];
      for (let k = 0; k < n; k++) dby[to + k] += dbx[from + k];
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Loss

/** Softmax cross-entropy with a one-hot label: loss, p, and δlogits = p − e_y written into `delta`. */
function softmaxCrossEntropy(logits: Float64Array, label: number, probabilities: Float64Array, delta: Float64Array): number {
  let max = -Infinity;
  for (let k = 0; k < logits.length; k++) max = Math.max(max, logits[k]);
  let sum = 0;
  for (let k = 0; k < logits.length; k++) {
    probabilities[k] = Math.exp(logits[k] - max);
    sum += probabilities[k];
  }
  for (let k = 0; k < logits.length; k++) {
    probabilities[k] /= sum;
    delta[k] = probabilities[k] - (k === label ? 1 : 0);
  }
  return Math.log(sum) + max - logits[label];
}

// ---------------------------------------------------------------------------------------------------------------
// Plans: an ordered list of ops from a source slot to the logits slot

interface Plan {
  ops: Op[];
  slotSizes: number[];
  source: number;
  logits: number;
}

function allocate(sizes: number[], only?: Uint8Array): Float64Array[] {
  return sizes.map((n, i) => (only && !only[i] ? new Float64Array(0) : new Float64Array(n)));
}

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
  readonly net: AttackNetwork;
  readonly unitId: string;
  /** Size of the unit's input (the unknown of the correction step). */
  readonly inputSize: number;
  /** The unit's input as [C, H, W] when it is an image-like tensor (for total variation), else undefined. */
  readonly inputImageShape: [number, number, number] | undefined;
  /** Units with parameters (conv/dense), in forward order. */
  readonly parameterUnits: string[];
  private readonly plan: Plan;
  private readonly affineOps: AffineOp[];

  constructor(net: AttackNetwork, unitId: string, plan: Plan, inputImageShape: [number, number, number] | undefined) {
    this.net = net;
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
      state: { values: allocate(sizes, used), deltas: allocate(sizes, used), aux: [] },
      adjoint: { dbar: allocate(sizes, used), pbar: allocate(sizes, used) },
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

// ---------------------------------------------------------------------------------------------------------------
// The network

/** Per-unit bookkeeping: which slots hold its pre-activation and output, which op is its main op. */
interface UnitSlots {
  pre: number;
  out: number;
  firstOp: number;
}

interface TraceInternals {
  state: RunState;
}

interface StepInternals {
  deltas: Float64Array[];
}

/** Original parameters of an affine unit, to map effective gradients to named ones and back. */
interface AffineParameters {
  kernel: WeightTensor;
  convBias?: WeightTensor;
  /** Folded BN: f = γ/√(v+ε), 1/√(v+ε), b − μ, and the kernel before folding. */
  batchNorm?: { scale?: WeightTensor; bias?: WeightTensor; factor: Float64Array; invStd: Float64Array; centred: Float64Array; rawKernel: Float64Array };
}

export class AttackNetwork {
  readonly graph: LayerGraph;
  readonly analysis: AnalysisGraph;
  /** Units that contribute to the logits, in topological order (input → output). */
  readonly order: Unit[];
  readonly logitsUnit: Unit;
  readonly inputShape: [number, number, number];
  readonly classes: number;

  private readonly plan: Plan;
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
    const deltas = allocate(this.plan.slotSizes);
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
    const values = allocate(this.plan.slotSizes);
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
    const kept: Op[] = [];
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
    return new SubNetwork(this, unitId, { ops: kept, slotSizes: this.plan.slotSizes, source, logits: this.plan.logits }, image);
  }
}

function sameShape(a: number[], b: Shape): boolean {
  const squeeze = (s: readonly number[]) => s.filter((d) => d !== 1);
  if (a.length === b.length && a.every((d, i) => d === b[i])) return true;
  const sa = squeeze(a);
  const sb = squeeze(b);
  return sa.length === sb.length && sa.every((d, i) => d === sb[i]);
}

// ---------------------------------------------------------------------------------------------------------------
// Plan builder: IR nodes → ops

class PlanBuilder {
  private readonly slotOf = new Map<string, number>();
  private readonly slotSizes: number[] = [];
  private readonly ops: Op[] = [];
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

  build() {
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

  private push(op: Op, unit: Unit | undefined): Op {
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
      case 'batchNorm': {
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
        this.push(new ElementAffineOp(node.id, x, this.newSlot(outName, outSize), scale, shift, { channelOf, channels, mean, invStd }), unit);
        return;
      }
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
        const { windows, weight } = poolWindows(node, isMax, fail);
        const y = this.newSlot(outName, outSize);
        if (windows.start.length - 1 !== outSize) fail(`pooling gives ${windows.start.length - 1} outputs, the model says ${outSize}`);
        this.push(isMax ? new MaxPoolOp(node.id, x, y, windows) : new AvgPoolOp(node.id, x, y, windows, weight), unit);
        return;
      }
      default:
        fail(unit?.note ?? `${node.op} is not executable`);
    }
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
    const z = this.newSlot(zName, outputSize(operator));
    if (bn) this.slotOf.set(node.outputs[0], z); // nothing else reads it (sole consumer)
    const op = new AffineOp(node.id, x, z, operator, kernel, bias, channelSize);
    this.push(op, unit);
    this.parameters.set(unit.id, params);

    const actId = unit.activation?.nodeId;
    const act = actId !== undefined ? this.nodeById.get(actId) : undefined;
    if (act && act.inputs[0] === zName) {
      const y = this.newSlot(act.outputs[0], outputSize(operator));
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

/** [C, H, W] of the model input (batch dropped; lower-rank inputs are C×1×1). */
function imageShape(shape: Shape): [number, number, number] {
  if (shape.length === 4) return [shape[1], shape[2], shape[3]];
  if (shape.length === 3) return [1, shape[1], shape[2]]; // [N, H, W]: one channel
  return [sizeOf(shape.slice(1)), 1, 1];
}

/** Channel (axis 1) of every flat element of an NC… tensor. */
function channelIndex(shape: Shape): Int32Array {
  const size = sizeOf(shape);
  const channels = shape[1] ?? 1;
  const inner = sizeOf(shape.slice(2));
  const out = new Int32Array(size);
  for (let k = 0; k < size; k++) out[k] = Math.floor(k / inner) % channels;
  return out;
}

/** For each element of `target`, the flat index into a numpy-broadcast `operand`. */
function broadcastIndex(operand: Shape, target: Shape, fail: (why: string) => never): Int32Array {
  if (operand.length > target.length) fail(`operand [${operand.join(', ')}] does not broadcast to [${target.join(', ')}]`);
  const aligned = [...new Array<number>(target.length - operand.length).fill(1), ...operand];
  aligned.forEach((d, i) => {
    if (d !== 1 && d !== target[i]) fail(`operand [${operand.join(', ')}] does not broadcast to [${target.join(', ')}]`);
  });
  const strides = new Array<number>(aligned.length).fill(0);
  let stride = 1;
  for (let i = aligned.length - 1; i >= 0; i--) {
    strides[i] = aligned[i] === 1 ? 0 : stride;
    stride *= aligned[i];
  }
  const size = sizeOf(target);
  const out = new Int32Array(size);
  const idx = new Array<number>(target.length).fill(0);
  for (let k = 0; k < size; k++) {
    let j = 0;
    for (let i = 0; i < idx.length; i++) j += idx[i] * strides[i];
    out[k] = j;
    for (let i = idx.length - 1; i >= 0; i--) {
      if (++idx[i] < target[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

/** out[k] = in[source[k]] for a transpose of `shape` by `perm`. */
function transposeIndex(shape: Shape, perm: number[]): Int32Array {
  const rank = shape.length;
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  const outShape = perm.map((p) => shape[p]);
  const size = sizeOf(shape);
  const out = new Int32Array(size);
  const idx = new Array<number>(rank).fill(0);
  for (let k = 0; k < size; k++) {
    let j = 0;
    for (let i = 0; i < rank; i++) j += idx[i] * inStrides[perm[i]];
    out[k] = j;
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i] < outShape[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

/** Source index of every element of a 2-D padded NCHW tensor (−1 = constant fill). */
function padIndex(shape: Shape, pads: [number, number, number, number], mode: 'constant' | 'reflect' | 'edge', fail: (why: string) => never): Int32Array {
  if (shape.length !== 4) fail('padding of a tensor that is not NCHW');
  const [n, c, h, w] = shape;
  const [pt, pl, pb, pr] = pads;
  const ho = h + pt + pb;
  const wo = w + pl + pr;
  const map = (i: number, size: number): number => {
    if (i >= 0 && i < size) return i;
    if (mode === 'constant') return -1;
    if (mode === 'edge') return Math.min(size - 1, Math.max(0, i));
    if (size === 1) return 0;
    const period = 2 * (size - 1);
    let r = ((i % period) + period) % period;
    if (r >= size) r = period - r;
    return r;
  };
  const out = new Int32Array(n * c * ho * wo);
  let k = 0;
  for (let b = 0; b < n * c; b++) {
    for (let i = 0; i < ho; i++) {
      const si = map(i - pt, h);
      for (let j = 0; j < wo; j++) {
        const sj = map(j - pl, w);
        out[k++] = si < 0 || sj < 0 ? -1 : (b * h + si) * w + sj;
      }
    }
  }
  return out;
}

/** Windows of a (global) average / max pooling node, and the average weights (1/divisor). */
function poolWindows(node: LayerNode, isMax: boolean, fail: (why: string) => never): { windows: Windows; weight: Float64Array } {
  const inShape = node.inputShapes[0];
  if (inShape.length !== 4) fail('pooling of a tensor that is not NCHW');
  const [, C, H, W] = inShape;
  const outShape = node.outputShapes[0];
  let kernel: [number, number] = [H, W];
  let strides: [number, number] = [1, 1];
  let dilations: [number, number] = [1, 1];
  let pads: [number, number, number, number] = [0, 0, 0, 0];
  let countIncludePad = false;
  let Ho = 1;
  let Wo = 1;
  if (node.attrs.kind === 'pool') {
    ({ kernel, strides, dilations, pads, countIncludePad } = node.attrs);
    Ho = outShape[2];
    Wo = outShape[3];
  } else if (node.op !== 'globalAvgPool' && node.op !== 'globalMaxPool') {
    fail('pooling without window attributes');
  }
  const start = new Int32Array(C * Ho * Wo + 1);
  const index: number[] = [];
  const weight = new Float64Array(C * Ho * Wo);
  let k = 0;
  for (let c = 0; c < C; c++) {
    for (let u = 0; u < Ho; u++) {
      for (let v = 0; v < Wo; v++) {
        let padded = 0;
        for (let a = 0; a < kernel[0]; a++) {
          const i = u * strides[0] + a * dilations[0] - pads[0];
          for (let b = 0; b < kernel[1]; b++) {
            const j = v * strides[1] + b * dilations[1] - pads[1];
            if (i >= -pads[0] && i < H + pads[2] && j >= -pads[1] && j < W + pads[3]) padded++;
            if (i >= 0 && i < H && j >= 0 && j < W) index.push((c * H + i) * W + j);
          }
        }
        const real = index.length - start[k];
        if (real === 0 && isMax) fail('a pooling window lies entirely in the padding');
        weight[k] = 1 / Math.max(1, countIncludePad ? padded : real);
        start[++k] = index.length;
      }
    }
  }
  return { windows: { start, index: Int32Array.from(index) }, weight };
}
