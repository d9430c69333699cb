// The parameters of a conv or dense layer, with the inference batch norm that follows it folded in (as the float64
// network folds it): the graph computes with the effective kernel and bias
//   W' = W·f,  b' = (b − μ)·f + β,  f = γ/√(v + ε)   (per output channel)
// so that the activations never pay for the batch norm, and maps gradients to the tensors a client shares and back:
//   ∂W = G'·f,  ∂b = g'·f,  ∂β = g',  ∂γ = (Σ G'·W + g'·(b − μ))/√(v + ε)         (G', g': effective gradients)
//   c_G' = c_W·f + c_γ·W/√(v + ε),  c_g' = c_b·f + c_β + c_γ·(b − μ)/√(v + ε)     (their adjoints)
import type { ParameterBlock } from './gradientOp';
import type { GraphWriter, Value } from './onnxWriter';

/** A weight of the model: values in the engine's layout, and its parameter block when it is trainable. */
export interface LayerWeight {
  values: Float64Array;
  block?: ParameterBlock;
}

/** An inference batch norm right after the layer (the layer's output is read by nothing else). */
export interface FoldedBatchNorm {
  gamma?: LayerWeight;
  beta?: LayerWeight;
  mean?: Float64Array;
  variance?: Float64Array;
  epsilon: number;
}

interface Fold {
  factor: Float64Array;
  invStd: Float64Array;
  centred: Float64Array;
  gamma?: LayerWeight;
  beta?: LayerWeight;
  rawKernel: Float64Array;
}

export class AffineParameters {
  /** Effective kernel (engine layout, [out, …]) and bias (undefined: none). */
  readonly kernel: Float64Array;
  readonly bias?: Float64Array;
  /** The trainable tensors, in the order `named` returns their gradients: kernel, bias, then γ and β. */
  readonly blocks: ParameterBlock[];
  private readonly fold?: Fold;
  private readonly perChannel: number;
  private readonly constants = new Map<string, Value>();

  constructor(
    readonly nodeId: string,
    readonly ownKernel: LayerWeight,
    readonly ownBias: LayerWeight | undefined,
    readonly outChannels: number,
    norm?: FoldedBatchNorm,
  ) {
    this.perChannel = ownKernel.values.length / outChannels;
    this.blocks = [ownKernel, ownBias, norm?.gamma, norm?.beta].flatMap((weight) => (weight?.block ? [weight.block] : []));
    if (!norm) {
      this.kernel = ownKernel.values;
      this.bias = ownBias?.values;
      return;
    }
    const factor = new Float64Array(outChannels);
    const invStd = new Float64Array(outChannels);
    const centred = new Float64Array(outChannels);
    const bias = new Float64Array(outChannels);
    for (let c = 0; c < outChannels; c++) {
      invStd[c] = 1 / Math.sqrt((norm.variance ? norm.variance[c] : 1) + norm.epsilon);
      factor[c] = (norm.gamma ? norm.gamma.values[c] : 1) * invStd[c];
      centred[c] = (ownBias ? ownBias.values[c] : 0) - (norm.mean ? norm.mean[c] : 0);
      bias[c] = centred[c] * factor[c] + (norm.beta ? norm.beta.values[c] : 0);
    }
    this.kernel = ownKernel.values.map((v, j) => v * factor[Math.floor(j / this.perChannel)]);
    this.bias = bias;
    this.fold = { factor, invStd, centred, gamma: norm.gamma, beta: norm.beta, rawKernel: ownKernel.values };
  }

  /** Whether the effective bias's gradient is needed for the named gradients. */
  get needsBiasGradient(): boolean {
    return !!this.ownBias?.block || !!this.fold?.gamma?.block || !!this.fold?.beta?.block;
  }

  /** Gradients of the trainable tensors (in `blocks` order) from the effective kernel and bias gradients. */
  named(w: GraphWriter, kernelGradient: () => Value, biasGradient: () => Value): Value[] {
    const fold = this.fold;
    if (!fold) return this.blocks.map((b) => (b === this.ownKernel.block ? kernelGradient() : biasGradient()));
    const out: Value[] = [];
    const g = this.ownKernel.block || fold.gamma?.block ? kernelGradient() : undefined;
    const gb = this.needsBiasGradient ? biasGradient() : undefined;
    if (this.ownKernel.block) out.push(w.mul(g!, this.constant(w, 'factor_k', fold.factor, g!.shape)));
    if (this.ownBias?.block) out.push(w.mul(gb!, this.constant(w, 'factor', fold.factor)));
    if (fold.gamma?.block) {
      const rows = w.reduceSum(
        w.mul(g!, this.rawKernel(w, g!.shape)),
        g!.shape.map((_, i) => i).filter((i) => i > 0),
        false,
      );
      out.push(w.mul(w.add(rows, w.mul(gb!, this.constant(w, 'centred', fold.centred))), this.constant(w, 'invstd', fold.invStd)));
    }
    if (fold.beta?.block) out.push(gb!);
    return out;
  }

  /** Cotangents of the effective kernel (shape `kernelShape`) and bias from those of the trainable tensors. */
  effective(w: GraphWriter, cotangents: (Value | undefined)[], kernelShape: readonly number[]): { kernel?: Value; bias?: Value } {
    const byBlock = new Map(this.blocks.map((b, i) => [b, cotangents[i]]));
    const cKernel = this.ownKernel.block && byBlock.get(this.ownKernel.block);
    const cBias = this.ownBias?.block && byBlock.get(this.ownBias.block);
    const fold = this.fold;
    if (!fold) return { kernel: cKernel, bias: cBias };
    const cGamma = fold.gamma?.block && byBlock.get(fold.gamma.block);
    const cBeta = fold.beta?.block && byBlock.get(fold.beta.block);
    const kernelTerms: Value[] = [];
    const biasTerms: Value[] = [];
    if (cKernel) kernelTerms.push(w.mul(cKernel, this.constant(w, 'factor_k', fold.factor, kernelShape)));
    if (cBias) biasTerms.push(w.mul(cBias, this.constant(w, 'factor', fold.factor)));
    if (cBeta) biasTerms.push(cBeta);
    if (cGamma) {
      const scaled = w.mul(cGamma, this.constant(w, 'invstd', fold.invStd));
      const perRow = w.reshape(
        scaled,
        kernelShape.map((d, i) => (i === 0 ? d : 1)),
      );
      kernelTerms.push(w.mul(perRow, this.rawKernel(w, kernelShape)));
      biasTerms.push(w.mul(scaled, this.constant(w, 'centred', fold.centred)));
    }
    return { kernel: w.sum(kernelTerms), bias: w.sum(biasTerms) };
  }

  /** The kernel before folding, as an initializer of the given shape. */
  private rawKernel(w: GraphWriter, shape: readonly number[]): Value {
    const key = `raw_W|${shape.join(',')}`;
    let v = this.constants.get(key);
    if (!v) {
      v = w.weight(this.fold!.rawKernel, shape, `${this.nodeId}_raw_W`);
      this.constants.set(key, v);
    }
    return v;
  }

  /** A per-channel constant as [C] or, given a kernel shape, as [C, 1, …] (one initializer per name and shape). */
  private constant(w: GraphWriter, name: string, values: Float64Array, kernelShape?: readonly number[]): Value {
    const shape = kernelShape ? kernelShape.map((d, i) => (i === 0 ? d : 1)) : [values.length];
    const key = `${name}|${shape.join(',')}`;
    let v = this.constants.get(key);
    if (!v) {
      v = w.weight(values, shape, `${this.nodeId}_${name}`);
      this.constants.set(key, v);
    }
    return v;
  }
}
