// The stacked system of one convolution layer, U x = V with U = [K(δz); W_op] and V = [vec G; z − b]
// (docs/algorithm.md §3.2, §5.4), and what every solve route of layerSolve.ts shares: options, the solution record,
// the residual and the LSQR stopping rule.
import type { ConvGeometry } from '../numerics/convGeometry';
import type { ConvOperator } from '../numerics/convOperators';
import { norm2 } from '../numerics/dense';
import type { LayerSolveMethod } from './types';

export interface LayerSolution {
  x: Float64Array;
  method: LayerSolveMethod;
  equations: number;
  rank?: number;
  relativeResidual: number;
  iterations?: number;
  conditionEstimate?: number;
}

export interface ConvSolveOptions {
  /** Largest m·n² (flops) of a dense factorisation of the stacked system (default 3e9, a few seconds in JS). */
  denseFlopBudget?: number;
  /** LSQR iteration limit (default 5000: determined layers converge in a few hundred to ~1200). */
  maxIterations?: number;
  /** LSQR relative tolerance (default 1e-15; 1e-10 above 20 000 unknowns). */
  tolerance?: number;
  /** Stop LSQR once this time (Date.now() ms) has passed (default: 60 s after the solve starts). */
  deadline?: number;
  signal?: AbortSignal;
}

/** A rank-deficient layer never converges: stop its LSQR after this long (the residual says how far it got). */
export const DEFAULT_LAYER_BUDGET_MS = 60_000;
const LARGE_LAYER_UNKNOWNS = 20_000;

/**
 * The layer's equations: the gradient rows (all n_w) and the forward rows of the output units whose z is known
 * (`forwardTarget` holds z − b per output unit, NaN where z is unknown: inactive ReLU units, §5.5).
 */
export class ConvLayerSystem {
  readonly geom: ConvGeometry;
  /** Output units whose forward row is kept, in increasing order. */
  readonly active: Int32Array;
  /** 1 on kept output units, 0 elsewhere. */
  readonly forwardMask: Float64Array;
  /** n_w + kept forward rows. */
  readonly rows: number;
  /** V = [vec G; (z − b) on the kept units]. */
  readonly rhs: Float64Array;
  private readonly rhsNorm: number;

  constructor(
    readonly op: ConvOperator,
    readonly W: Float64Array,
    readonly dz: Float64Array,
    readonly G: Float64Array,
    readonly target: Float64Array,
  ) {
    const g = op.geom;
    this.geom = g;
    const active: number[] = [];
    for (let r = 0; r < g.nZ; r++) if (Number.isFinite(target[r])) active.push(r);
    this.active = Int32Array.from(active);
    this.forwardMask = new Float64Array(g.nZ);
    for (const r of active) this.forwardMask[r] = 1;
    this.rows = g.nW + active.length;
    this.rhs = new Float64Array(this.rows);
    this.rhs.set(G, 0);
    active.forEach((r, k) => (this.rhs[g.nW + k] = target[r]));
    this.rhsNorm = norm2(this.rhs);
  }

  /** ‖U x − V‖ / ‖V‖ over the unscaled stacked system. */
  relativeResidual(x: Float64Array): number {
    const g = this.geom;
    const gx = this.op.gradient(this.dz, x);
    const zx = this.op.forward(this.W, x);
    let rr = 0;
    for (let i = 0; i < g.nW; i++) rr += (gx[i] - this.rhs[i]) ** 2;
    for (let k = 0; k < this.active.length; k++) rr += (zx[this.active[k]] - this.rhs[g.nW + k]) ** 2;
    return this.rhsNorm > 0 ? Math.sqrt(rr) / this.rhsNorm : Math.sqrt(rr);
  }

  /** 1/‖row‖ of every kept forward row (0 for an empty row), in the order of `active`. */
  forwardRowScales(): Float64Array {
    const rowNorm2 = this.op.forward(
      this.W.map((v) => v * v),
      new Float64Array(this.geom.nX).fill(1),
    );
    return Float64Array.from(this.active, (r) => (rowNorm2[r] > 0 ? 1 / Math.sqrt(rowNorm2[r]) : 0));
  }
}

/**
 * Tolerance and stop rule of every LSQR solve of a layer: near machine precision on small layers (exact gradients
 * must give the exact input, docs/algorithm.md §8.4); on image-sized layers each iteration costs seconds, and 1e-10 is
 * already far below what an image can show. Stops on cancellation and on the layer's deadline.
 */
export function lsqrStopping(g: ConvGeometry, options: ConvSolveOptions): { atol: number; btol: number; shouldStop: () => boolean } {
  const tolerance = options.tolerance ?? (g.nX > LARGE_LAYER_UNKNOWNS ? 1e-10 : 1e-15);
  const deadline = options.deadline ?? Date.now() + DEFAULT_LAYER_BUDGET_MS;
  return { atol: tolerance, btol: tolerance, shouldStop: () => options.signal?.aborted === true || Date.now() > deadline };
}
