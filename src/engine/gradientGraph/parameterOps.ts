// Layers whose gradient graph involves their parameters or their input values (convolution has its own file):
// dense, inference batch norm, element-wise affine maps by constants, and element-wise nonlinearities
// (activations, c/x). For a layer z = K(θ) x the adjoint of ∂θ = P(δz; x) for a cotangent c_θ is the pair
// (in δz: the layer applied to x with parameters c_θ; in x: its transpose applied to δz).
import type { ActivationAttrs } from '../ir';
import { activationTerms } from './activations';
import type { AffineParameters, LayerWeight } from './affineParameters';
import { expandTo, GradientOp, type ParameterAdjoint, type ParameterBlock } from './gradientOp';
import type { GraphWriter, Value } from './onnxWriter';

/** Cotangents by parameter block of one op, in `parameters` order (undefined: not in the objective). */
type Cotangents = (Value | undefined)[];

function blocksOf(...weights: (LayerWeight | undefined)[]): ParameterBlock[] {
  return weights.flatMap((weight) => (weight?.block ? [weight.block] : []));
}

/** z = W x + b with W [out, in]; x is read as [1, in] whatever its IR shape. */
export class DenseOp extends GradientOp {
  private x!: Value;
  private kernelValue!: Value;

  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly inShape: number[],
    readonly outShape: number[],
    readonly inFeatures: number,
    readonly outFeatures: number,
    /** The layer's kernel and bias, with a following batch norm folded in. */
    readonly params: AffineParameters,
  ) {
    super(nodeId, [input], output);
    this.parameters.push(...params.blocks);
  }

  private gemm(w: GraphWriter, x: Value, kernel: Value, bias?: Value): Value {
    return w.reshape(w.op('Gemm', [w.reshape(x, [1, this.inFeatures]), kernel, bias], [1, this.outFeatures], { transB: 1 }), this.outShape);
  }

  forward(w: GraphWriter, [x]: Value[]): Value {
    this.x = w.reshape(x, [1, this.inFeatures]);
    this.kernelValue = w.weight(this.params.kernel, [this.outFeatures, this.inFeatures], `${this.nodeId}_W`);
    const bias = this.params.bias && w.weight(this.params.bias, [this.outFeatures], `${this.nodeId}_b`);
    return this.gemm(w, this.x, this.kernelValue, bias);
  }

  private rowGradient(w: GraphWriter, dz: Value, kernel: Value): Value {
    return w.reshape(w.op('MatMul', [w.reshape(dz, [1, this.outFeatures]), kernel], [1, this.inFeatures]), this.inShape);
  }

  backward(w: GraphWriter, dy: Value, need: boolean[]): (Value | undefined)[] {
    return [need[0] ? this.rowGradient(w, dy, this.kernelValue) : undefined];
  }

  tangent(w: GraphWriter, [dx]: (Value | undefined)[]): Value | undefined {
    return dx && this.gemm(w, dx, this.kernelValue);
  }

  override parameterGradients(w: GraphWriter, dy: Value): Value[] {
    return this.params.named(
      w,
      () => w.op('MatMul', [w.reshape(dy, [this.outFeatures, 1]), this.x], [this.outFeatures, this.inFeatures]),
      () => w.reshape(dy, [this.outFeatures]),
    );
  }

  override adjointParameterGradients(w: GraphWriter, cotangents: Cotangents, dy: Value): ParameterAdjoint {
    const { kernel: cKernel, bias: cBias } = this.params.effective(w, cotangents, [this.outFeatures, this.inFeatures]);
    if (cKernel) return { output: this.gemm(w, this.x, cKernel, cBias), input: this.rowGradient(w, dy, cKernel) };
    return cBias ? { output: w.reshape(cBias, this.outShape) } : {};
  }
}

/**
 * Inference batch norm on its own (not after a conv/dense the analysis folds it into, which makes no difference
 * here: the graph keeps the model's own parameters): y = γ x̂ + β, x̂ = (x − μ)/√(v + ε), per channel (axis 1).
 */
export class BatchNormOp extends GradientOp {
  private x!: Value;
  private factor!: Value;
  private invStd!: Value;
  private centredShift!: Value;

  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly shape: number[],
    readonly gamma: LayerWeight | undefined,
    readonly beta: LayerWeight | undefined,
    readonly mean: Float64Array,
    readonly variance: Float64Array,
    readonly epsilon: number,
  ) {
    super(nodeId, [input], output);
    this.parameters.push(...blocksOf(gamma, beta));
  }

  private get channels(): number {
    return this.shape[1] ?? 1;
  }
  /** [1, C, 1, …]: per-channel constants broadcast over an NC… tensor. */
  private get channelShape(): number[] {
    return this.shape.map((d, i) => (i === 1 ? d : 1));
  }
  private get reduceAxes(): number[] {
    return this.shape.map((_, i) => i).filter((i) => i !== 1);
  }

  forward(w: GraphWriter, [x]: Value[]): Value {
    this.x = x;
    const c = this.channels;
    const invStd = new Float64Array(c);
    const factor = new Float64Array(c);
    const shift = new Float64Array(c);
    const centredShift = new Float64Array(c);
    for (let k = 0; k < c; k++) {
      invStd[k] = 1 / Math.sqrt(this.variance[k] + this.epsilon);
      factor[k] = (this.gamma ? this.gamma.values[k] : 1) * invStd[k];
      shift[k] = (this.beta ? this.beta.values[k] : 0) - this.mean[k] * factor[k];
      centredShift[k] = -this.mean[k] * invStd[k];
    }
    this.factor = w.weight(factor, this.channelShape, `${this.nodeId}_factor`);
    this.invStd = w.weight(invStd, this.channelShape, `${this.nodeId}_invstd`);
    this.centredShift = w.weight(centredShift, this.channelShape, `${this.nodeId}_centre`);
    return w.add(w.mul(x, this.factor), w.weight(shift, this.channelShape, `${this.nodeId}_shift`));
  }

  backward(w: GraphWriter, dy: Value, need: boolean[]): (Value | undefined)[] {
    return [need[0] ? w.mul(dy, this.factor) : undefined];
  }

  tangent(w: GraphWriter, [dx]: (Value | undefined)[]): Value | undefined {
    return dx && w.mul(dx, this.factor);
  }

  private normalised(w: GraphWriter): Value {
    return w.add(w.mul(this.x, this.invStd), this.centredShift);
  }

  override parameterGradients(w: GraphWriter, dy: Value): Value[] {
    const out: Value[] = [];
    if (this.gamma?.block) out.push(w.reduceSum(w.mul(dy, this.normalised(w)), this.reduceAxes, false));
    if (this.beta?.block) out.push(w.reduceSum(dy, this.reduceAxes, false));
    return out;
  }

  override adjointParameterGradients(w: GraphWriter, cotangents: Cotangents, dy: Value): ParameterAdjoint {
    const [cGamma, cBeta] = this.gamma?.block ? cotangents : [undefined, cotangents[0]];
    const perChannel = (c: Value) => w.reshape(c, this.channelShape);
    const result: ParameterAdjoint = {};
    const terms: Value[] = [];
    if (cGamma) {
      terms.push(w.mul(this.normalised(w), perChannel(cGamma)));
      result.input = w.mul(dy, w.mul(perChannel(cGamma), this.invStd));
    }
    if (cBeta) terms.push(expandTo(w, perChannel(cBeta), this.shape));
    result.output = w.sum(terms);
    return result;
  }
}

/** y = s ⊙ x + t with constant (broadcast) s and t: add/sub/mul/div by a constant of the model. */
export class ConstantAffineOp extends GradientOp {
  private scaleValue?: Value;
  constructor(
    nodeId: string,
    input: number,
    output: number,
    /** Undefined: 1. */
    readonly scale: { values: Float64Array; shape: number[] } | undefined,
    readonly shift: { values: Float64Array; shape: number[] } | undefined,
  ) {
    super(nodeId, [input], output);
  }
  private scaled(w: GraphWriter, x: Value): Value {
    return this.scaleValue ? w.mul(x, this.scaleValue) : x;
  }
  forward(w: GraphWriter, [x]: Value[]): Value {
    if (this.scale) this.scaleValue = w.weight(this.scale.values, this.scale.shape, `${this.nodeId}_scale`);
    const scaled = this.scaled(w, x);
    return this.shift ? w.add(scaled, w.weight(this.shift.values, this.shift.shape, `${this.nodeId}_shift`)) : w.unary('Identity', scaled);
  }
  backward(w: GraphWriter, dy: Value, need: boolean[]): (Value | undefined)[] {
    return [need[0] ? this.scaled(w, dy) : undefined];
  }
  tangent(w: GraphWriter, [dx]: (Value | undefined)[]): Value | undefined {
    return dx && this.scaled(w, dx);
  }
}

/**
 * y = σ(x) element-wise: activations (PReLU with its slope as a parameter) and c/x. δx = δy ⊙ σ'(x);
 * curvature ⟨d̄x, δy ⊙ σ'(x)⟩ → d̄x ⊙ δy ⊙ σ''(x).
 */
export class ElementwiseOp extends GradientOp {
  private x!: Value;
  private derivative!: Value;
  private curvatureFactor?: Value;
  private slopeValue?: Value;

  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly shape: number[],
    readonly fn:
      | { kind: 'activation'; attrs: ActivationAttrs; slope?: LayerWeight & { shape: number[] } }
      | { kind: 'reciprocal'; numerator: Float64Array; shape: number[] },
  ) {
    super(nodeId, [input], output);
    if (fn.kind === 'activation' && fn.slope?.block) this.parameters.push(fn.slope.block);
  }

  forward(w: GraphWriter, [x]: Value[]): Value {
    this.x = x;
    const fn = this.fn;
    if (fn.kind === 'reciprocal') {
      // y = c/x: σ' = −y/x, σ'' = 2y/x² = −2σ'/x.
      const y = w.div(w.weight(fn.numerator, fn.shape, `${this.nodeId}_numerator`), x);
      this.derivative = w.neg(w.div(y, x));
      this.curvatureFactor = w.div(w.scale(this.derivative, -2), x);
      return y;
    }
    if (fn.slope) this.slopeValue = w.weight(fn.slope.values, fn.slope.shape, `${this.nodeId}_slope`);
    const terms = activationTerms(w, fn.attrs, x, this.slopeValue);
    this.derivative = terms.derivative;
    this.curvatureFactor = terms.curvature;
    return terms.y;
  }

  backward(w: GraphWriter, dy: Value, need: boolean[]): (Value | undefined)[] {
    return [need[0] ? w.mul(dy, this.derivative) : undefined];
  }

  tangent(w: GraphWriter, [dx]: (Value | undefined)[]): Value | undefined {
    return dx && w.mul(dx, this.derivative);
  }

  override curvature(w: GraphWriter, [dx]: (Value | undefined)[], dy: Value): (Value | undefined)[] {
    return [dx && this.curvatureFactor ? w.mul(w.mul(dx, dy), this.curvatureFactor) : undefined];
  }

  /** PReLU: ∂ℓ/∂a = Σ over the slope's broadcast axes of δy · min(x, 0). */
  override parameterGradients(w: GraphWriter, dy: Value): Value[] {
    if (!this.parameters.length) return [];
    return [this.reduceToSlope(w, w.mul(dy, w.op('Min', [this.x, w.scalar(0)], this.shape)))];
  }

  override adjointParameterGradients(w: GraphWriter, [cSlope]: Cotangents, dy: Value): ParameterAdjoint {
    if (!cSlope) return {};
    const slope = w.reshape(cSlope, this.alignedSlopeShape());
    const negative = w.toFloat(w.compare('Less', this.x, w.scalar(0)));
    return { output: w.mul(w.op('Min', [this.x, w.scalar(0)], this.shape), slope), input: w.mul(w.mul(dy, negative), slope) };
  }

  private alignedSlopeShape(): number[] {
    const slopeShape = this.fn.kind === 'activation' && this.fn.slope ? this.fn.slope.shape : [];
    return [...new Array<number>(this.shape.length - slopeShape.length).fill(1), ...slopeShape];
  }

  private reduceToSlope(w: GraphWriter, value: Value): Value {
    const aligned = this.alignedSlopeShape();
    const axes = aligned.map((d, i) => (d === 1 && this.shape[i] !== 1 ? i : -1)).filter((i) => i >= 0);
    const reduced = axes.length ? w.reduceSum(value, axes, true) : value;
    return w.reshape(reduced, this.parameters[0].shape);
  }
}
