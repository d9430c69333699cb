// The execution plan of the attack network: what the plan builder produces from the IR and the analysis units, and
// what the network, the sub-networks and any other reader of the plan (an exporter, say) consume.
//
// A plan is an ordered list of ops over numbered slots. Slot k holds one computed IR tensor, batch 1, flat NCHW, as a
// Float64Array of slotSizes[k] entries; every op reads the slots in `inputs` and writes the slot `output`. Running
// the ops in order from the source slot (the model input, or a unit's input for a sub-network) computes the logits
// slot. A conv/dense op carries its unit's effective kernel and bias (eval batch norm folded in); the original
// parameters are kept per unit (AffineParameters) to name the gradients as the model file does.
import type { WeightTensor } from '../../ir';
import type { Unit } from '../../analysis/units';
import type { AffineOp } from './affineOp';
import type { ActivationOp, ElementAffineOp, ReciprocalOp } from './elementwiseOps';
import type { AvgPoolOp, MaxPoolOp } from './poolingOps';
import type { ConcatOp, GatherOp, IdentityOp, SumOp } from './structuralOps';

export type { AdjointState, OpKind, RunState } from './op';

/** Every op a plan holds, discriminated by `kind`. */
export type PlanOp = AffineOp | ActivationOp | ElementAffineOp | ReciprocalOp | IdentityOp | GatherOp | AvgPoolOp | MaxPoolOp | SumOp | ConcatOp;

/** An ordered list of ops from a source slot to the logits slot. */
export interface Plan {
  ops: PlanOp[];
  /** Entries of each slot. */
  slotSizes: number[];
  /** The slot the input is written to. */
  source: number;
  /** The slot that holds the logits after the last op. */
  logits: number;
}

/** Per-unit bookkeeping: which slots hold its pre-activation and output, which op is its main op. */
export interface UnitSlots {
  pre: number;
  out: number;
  firstOp: number;
}

/** Original parameters of an affine unit, to map effective gradients to named ones and back. */
export interface AffineParameters {
  kernel: WeightTensor;
  convBias?: WeightTensor;
  /** Folded BN: f = γ/√(v+ε), 1/√(v+ε), b − μ, and the kernel before folding. */
  batchNorm?: { scale?: WeightTensor; bias?: WeightTensor; factor: Float64Array; invStd: Float64Array; centred: Float64Array; rawKernel: Float64Array };
}

/** What the plan builder returns for a whole network. */
export interface PlanBuild {
  plan: Plan;
  /** Units that contribute to the logits, in topological order (input → output). */
  order: Unit[];
  logitsUnit: Unit;
  /** [C, H, W] of the model input. */
  inputShape: [number, number, number];
  unitSlots: Map<string, UnitSlots>;
  /** Original parameters of each conv/dense unit. */
  parameters: Map<string, AffineParameters>;
}
