// One executable op of the attack network and the per-slot buffers a pass runs on. Every op implements three maps,
// which is all the first- and second-order passes need:
//   forward            y = f(x)
//   backward           δx += B(δy; x)            (B = Jᵀ, the usual reverse step)
//   adjointBackward    d̄y += Bᵀ d̄x, p̄x += ∂/∂x ⟨d̄x, B(δy; x)⟩   (reverse of the reverse step)
// Affine ops add their parameter gradient P(δy; x) = K(δy) x and its adjoint.

/** Per-run buffers, indexed by slot (one slot per IR tensor that is computed). */
export interface RunState {
  values: Float64Array[];
  /** δ (first-order adjoints) per slot. */
  deltas: Float64Array[];
  /** Per-op data of a forward pass that the backward needs (max-pool routing). */
  aux: (Int32Array | undefined)[];
}

/** Second-order buffers: d̄ (cotangent of δ) and p̄ (cotangent of the primal values) per slot. */
export interface AdjointState {
  dbar: Float64Array[];
  pbar: Float64Array[];
}

/** The op kinds of a plan (see PlanOp in plan.ts for the classes). */
export type OpKind = 'affine' | 'activation' | 'elementAffine' | 'reciprocal' | 'identity' | 'gather' | 'avgPool' | 'maxPool' | 'sum' | 'concat';

export abstract class Op {
  /** Which op this is (the discriminant of PlanOp). */
  abstract readonly kind: OpKind;
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

export function addInto(target: Float64Array, source: Float64Array): void {
  for (let i = 0; i < target.length; i++) target[i] += source[i];
}

/** One buffer per slot; slots not marked in `only` (when given) get an empty one. */
export function allocateSlots(sizes: number[], only?: Uint8Array): Float64Array[] {
  return sizes.map((n, i) => (only && !only[i] ? new Float64Array(0) : new Float64Array(n)));
}
