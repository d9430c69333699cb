// The conv / dense op of a unit: its effective kernel and bias, the input gradient, the parameter gradient and the
// adjoints the gradient-matching correction needs.
import { ConvOperator, FullyConnectedOperator } from '../../numerics/convOperators';
import { Op, addInto, type AdjointState, type RunState } from './op';

export function affineOutputSize(op: ConvOperator | FullyConnectedOperator): number {
  return op instanceof ConvOperator ? op.geom.nZ : op.nZ;
}

/** Conv or dense with the unit's effective kernel and bias: z = W x + b. */
export class AffineOp extends Op {
  readonly kind = 'affine' as const;
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
    super(nodeId, [input], output, affineOutputSize(operator));
    this.scratchIn = new Float64Array(operator instanceof ConvOperator ? operator.geom.nX : operator.nX);
    this.scratchOut = new Float64Array(affineOutputSize(operator));
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
