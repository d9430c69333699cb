// One layer of the gradient graph. The objective needs four linear maps per layer (the same ones the float64
// network's ops implement, network.ts), written here as ONNX sub-graphs instead of loops:
//   forward          y = f(x)
//   backward         δx = B(δy; x) = J(x)ᵀ δy                     (used twice: for δ, and for the final pass)
//   tangent          J(x) d̄x                                      (the adjoint of `backward` in δy)
//   curvature        ∂/∂x ⟨d̄x, B(δy; x)⟩                          (zero for layers whose B does not depend on x)
// and, for layers with parameters θ, their gradient P(δy; x) and its adjoint in (δy, x) for a cotangent c_θ.
// Values a layer's later maps reuse (its input, derivative masks, pooling indices) are kept on the instance: an op
// object belongs to one graph.
import type { GraphWriter, Value } from './onnxWriter';

/** A trainable tensor of the model, as a client shares its gradient. */
export interface ParameterBlock {
  /** The weight's name in the model file (WeightTensor.name); gradients are matched by it. */
  name: string;
  /** Shape as the model stores it (what a shared gradient of it has). */
  fileShape: number[];
  /** Shape of its gradient in the graph (the engine's layout: conv OIHW, dense [out, in]); same element count. */
  shape: number[];
}

export interface ParameterAdjoint {
  /** Contribution to d̄y (the cotangent of the layer's output gradient δy). */
  output?: Value;
  /** Contribution to p̄x (the cotangent of the layer's input value x). */
  input?: Value;
}

export abstract class GradientOp {
  /** Parameter tensors of this layer, in the order `parameterGradients` returns them. */
  readonly parameters: ParameterBlock[] = [];

  constructor(
    /** IR node id (for errors and debugging). */
    readonly nodeId: string,
    /** Slots read. */
    readonly inputs: number[],
    /** Slot written. */
    readonly output: number,
  ) {}

  abstract forward(w: GraphWriter, x: Value[]): Value;

  /** δx_i for each input i (undefined where `need[i]` is false). Linear in dy. */
  abstract backward(w: GraphWriter, dy: Value, need: boolean[]): (Value | undefined)[];

  /** J d̄x for input tangents d̄x (undefined entries are zero); undefined when the result is zero. */
  abstract tangent(w: GraphWriter, dx: (Value | undefined)[]): Value | undefined;

  /** ∂/∂x_i ⟨d̄x, B(δy; x)⟩ per input (undefined: zero). */
  curvature(_w: GraphWriter, _dx: (Value | undefined)[], _dy: Value): (Value | undefined)[] {
    return [];
  }

  /** ∂loss/∂θ for each parameter block, given the output gradient δy. */
  parameterGradients(_w: GraphWriter, _dy: Value): Value[] {
    return [];
  }

  /** For cotangents c_θ (undefined: zero) of the parameter gradients: their adjoint in δy and in x. */
  adjointParameterGradients(_w: GraphWriter, _cotangents: (Value | undefined)[], _dy: Value): ParameterAdjoint {
    return {};
  }

  /**
   * This layer's step of the reverse of the backward pass: d̄y = J d̄x + (adjoint of P in δy) and p̄ of each input
   * (curvature + adjoint of P in x). Layers may override it to write the sum in fewer nodes.
   */
  reverseOfBackward(
    w: GraphWriter,
    dx: (Value | undefined)[],
    dy: Value,
    cotangents: (Value | undefined)[],
  ): { output?: Value; inputs: (Value | undefined)[] } {
    const inputs = [...this.curvature(w, dx, dy)];
    const outputs = [this.tangent(w, dx)];
    if (cotangents.some(Boolean)) {
      const adjoint = this.adjointParameterGradients(w, cotangents, dy);
      outputs.push(adjoint.output);
      inputs[0] = w.sum([inputs[0], adjoint.input]);
    }
    return { output: w.sum(outputs), inputs };
  }
}

/** Tensor of the output shape filled with a broadcastable value (e.g. a bias cotangent [1, C, 1, 1]). */
export function expandTo(w: GraphWriter, value: Value, shape: readonly number[]): Value {
  if (value.shape.length === shape.length && value.shape.every((d, i) => d === shape[i])) return value;
  return w.op('Expand', [value, w.ints(shape)], shape);
}
