// One layer of the closed-form recursion (docs/algorithm.md §3.1, §3.2, §5.3, §5.4): recover a layer's input from its
// weight gradient (gradient rows K(δz) x = vec G) and its pre-activation (forward rows W_op x = z − b).
//
// Conv layers take the cheapest exact route first:
//   1. channel blocks — K(δz) is block-diagonal over input channels and the blocks of one group are identical, so
//      one small factorisation of the (C_out/g·k_h·k_w) × (H·W) block solves every channel of that group; when
//      the block has full column rank the gradient rows alone determine the input (CNN6 layers 2–6).
//   2. dense minimum-norm least squares on the stacked system when it is small enough to factor;
//   3. matrix-free LSQR on [K(δz); W_op] (convolutions and their adjoints, no matrix stored), every row scaled to
//      unit norm and Jacobi column scaling (fewer iterations than scaling each block to unit norm on CNN6: 588 vs 1171).
import { ConvOperator, FullyConnectedOperator } from '../numerics/convOperators';
import type { ConvGeometry } from '../numerics/convGeometry';
import { weightIndex } from '../numerics/convGeometry';
import { norm2, zeros, type DenseMatrix } from '../numerics/dense';
import type { LinearOperator } from '../numerics/linearOperator';
import { lsqr } from '../numerics/lsqr';
import { lstsqFactor, lstsqMinNorm } from '../numerics/qr';
import { csrToDense, csrVStack, type Csr } from '../numerics/sparse';
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

const DEFAULT_DENSE_FLOP_BUDGET = 3e9;
/** A rank-deficient layer never converges: stop its LSQR after this long (the residual says how far it got). */
const DEFAULT_LAYER_BUDGET_MS = 60_000;
const LARGE_LAYER_UNKNOWNS = 20_000;

/** Fully connected input from its weight gradient: x = Gᵀ δz / ‖δz‖², the least-squares fit of G = δz xᵀ (§3.1). */
export function solveDenseLayer(op: FullyConnectedOperator, G: Float64Array, dz: Float64Array): LayerSolution {
  const m = op.outFeatures;
  const n = op.inFeatures;
  let dd = 0;
  for (let i = 0; i < m; i++) dd += dz[i] * dz[i];
  const x = new Float64Array(n);
  if (dd === 0) return { x, method: 'fc-closed-form', equations: 0, relativeResidual: 1 };
  for (let i = 0; i < m; i++) {
    const d = dz[i] / dd;
    if (d === 0) continue;
    const row = i * n;
    for (let j = 0; j < n; j++) x[j] += G[row + j] * d;
  }
  // ‖G − δz xᵀ‖ / ‖G‖
  let rr = 0;
  let gg = 0;
  for (let i = 0; i < m; i++) {
    const row = i * n;
    for (let j = 0; j < n; j++) {
      const r = G[row + j] - dz[i] * x[j];
      rr += r * r;
      gg += G[row + j] * G[row + j];
    }
  }
  return { x, method: 'fc-closed-form', equations: n, relativeResidual: gg > 0 ? Math.sqrt(rr / gg) : 0 };
}

/**
 * Conv input from [K(δz); W_op] x = [vec G; z − b]. `forwardTarget` holds z − b per output unit, NaN where z is
 * unknown (inactive ReLU units): those forward rows are dropped (R-CONV, §5.5).
 */
export function solveConvLayer(
  op: ConvOperator,
  W: Float64Array,
  dz: Float64Array,
  G: Float64Array,
  forwardTarget: Float64Array,
  options: ConvSolveOptions = {},
): LayerSolution {
  const g = op.geom;
  const active: number[] = [];
  for (let r = 0; r < g.nZ; r++) if (Number.isFinite(forwardTarget[r])) active.push(r);
  const system = stackedSystem(op, W, dz, G, forwardTarget, active);

  const byBlocks = solveByChannelBlocks(g, dz, G);
  if (byBlocks) {
    return { x: byBlocks.x, method: 'dense-lstsq', equations: system.rows, rank: g.nX, relativeResidual: system.relativeResidual(byBlocks.x) };
  }
  const m = g.nW + active.length;
  const budget = options.denseFlopBudget ?? DEFAULT_DENSE_FLOP_BUDGET;
  if (m * g.nX * g.nX <= budget) {
    const A = denseStackedMatrix(op, W, dz, active);
    const rhs = system.rhs;
    const { x, rank } = lstsqMinNorm(A, rhs);
    return { x, method: 'dense-lstsq', equations: m, rank, relativeResidual: system.relativeResidual(x) };
  }
  let start: Float64Array | undefined;
  if (active.length >= g.nX) {
    const forwardOnly = solveForwardRows(op, W, forwardTarget, active, system, options);
    if (forwardOnly.accepted) return forwardOnly.solution;
    start = forwardOnly.solution.x;
  }
  return solveConvLsqr(op, system, options, start);
}

/** Iterations given to the forward rows alone before falling back to the stacked system. */
const FORWARD_ONLY_MAX_ITERATIONS = 100;
/** Both residuals below this: the forward-only solution also satisfies the gradient rows. */
const CONSISTENT_RESIDUAL = 1e-7;

/**
 * When there are at least as many known forward rows as unknowns, W_op alone is often well conditioned (a wide
 * first layer: condition ~10–30, a dozen LSQR iterations), while the gradient rows, which scale with |δz|, slow the
 * stacked system down by orders of magnitude. The forward-only minimum-norm solution is accepted only if it also
 * satisfies the gradient rows: then it solves the whole system and, lying in range(W_opᵀ), is its minimum-norm solution.
 */
function solveForwardRows(
  op: ConvOperator,
  W: Float64Array,
  target: Float64Array,
  active: number[],
  system: StackedSystem,
  options: ConvSolveOptions,
): { accepted: boolean; solution: LayerSolution } {
  const g = op.geom;
  const mask = new Float64Array(g.nZ);
  for (const r of active) mask[r] = 1;
  const col2 = op.forwardTranspose(
    W.map((v) => v * v),
    mask,
  );
  const columnScale = col2.map((v) => (v > 0 ? 1 / Math.sqrt(v) : 1));
  const scaled = new Float64Array(g.nX);
  const zFull = new Float64Array(g.nZ);
  const rhs = new Float64Array(active.length);
  active.forEach((r, k) => (rhs[k] = target[r]));
  const A: LinearOperator = {
    rows: active.length,
    cols: g.nX,
    apply(y, out) {
      for (let j = 0; j < g.nX; j++) scaled[j] = y[j] * columnScale[j];
      op.forward(W, scaled, zFull);
      for (let k = 0; k < active.length; k++) out[k] = zFull[active[k]];
    },
    applyTranspose(r, out) {
      zFull.fill(0);
      for (let k = 0; k < active.length; k++) zFull[active[k]] = r[k];
      op.forwardTranspose(W, zFull, out);
      for (let j = 0; j < g.nX; j++) out[j] *= columnScale[j];
    },
  };
  const result = lsqr(A, rhs, { ...lsqrStopping(g, options), maxIter: FORWARD_ONLY_MAX_ITERATIONS });
  options.signal?.throwIfAborted();
  const x = result.x.map((v, j) => v * columnScale[j]);
  const residual = system.relativeResidual(x);
  const converged = result.istop !== 7 && result.istop !== 8;
  return {
    accepted: converged && residual <= CONSISTENT_RESIDUAL,
    solution: { x, method: 'lsqr-forward', equations: system.rows, relativeResidual: residual, iterations: result.iterations, conditionEstimate: result.aCond },
  };
}

interface StackedSystem {
  rows: number;
  rhs: Float64Array;
  /** ‖U x − V‖ / ‖V‖ over the unscaled stacked system. */
  relativeResidual(x: Float64Array): number;
  /** The row- and column-scaled operator and right-hand side. */
  scaled: LinearOperator;
  scaledRhs: Float64Array;
  columnScale: Float64Array;
}

function stackedSystem(op: ConvOperator, W: Float64Array, dz: Float64Array, G: Float64Array, target: Float64Array, active: number[]): StackedSystem {
  const g = op.geom;
  const nA = active.length;
  const rhs = new Float64Array(g.nW + nA);
  rhs.set(G, 0);
  for (let k = 0; k < nA; k++) rhs[g.nW + k] = target[active[k]];
  const activeMask = new Float64Array(g.nZ);
  for (const r of active) activeMask[r] = 1;

  // Row equilibration: every row scaled to unit norm (K rows scale with |δz| of their filter, W rows with their
  // filter's weights), then Jacobi column scaling; row norms and column norms matrix-free, from squared entries.
  const ones = new Float64Array(g.nX).fill(1);
  const dz2 = dz.map((v) => v * v);
  const W2 = W.map((v) => v * v);
  const kRow2 = op.gradient(dz2, ones);
  const wRow2All = op.forward(W2, ones);
  const rowK = kRow2.map((v) => (v > 0 ? 1 / Math.sqrt(v) : 0));
  const rowW = new Float64Array(nA);
  for (let k = 0; k < nA; k++) {
    const v = wRow2All[active[k]];
    rowW[k] = v > 0 ? 1 / Math.sqrt(v) : 0;
  }
  const wMask2 = new Float64Array(g.nZ);
  for (let k = 0; k < nA; k++) wMask2[active[k]] = rowW[k] * rowW[k];
  const kCol2 = op.gradientTranspose(
    dz2,
    rowK.map((v) => v * v),
  );
  const wCol2 = op.forwardTranspose(W2, wMask2);
  const columnScale = new Float64Array(g.nX);
  for (let j = 0; j < g.nX; j++) {
    const c2 = kCol2[j] + wCol2[j];
    columnScale[j] = c2 > 0 ? 1 / Math.sqrt(c2) : 1;
  }
  const scaledRhs = new Float64Array(rhs.length);
  for (let i = 0; i < g.nW; i++) scaledRhs[i] = rowK[i] * rhs[i];
  for (let k = 0; k < nA; k++) scaledRhs[g.nW + k] = rowW[k] * rhs[g.nW + k];

  const xs = new Float64Array(g.nX);
  const zFull = new Float64Array(g.nZ);
  const gradBuf = new Float64Array(g.nW);
  const xBuf = new Float64Array(g.nX);
  const scaled: LinearOperator = {
    rows: rhs.length,
    cols: g.nX,
    apply(y, out) {
      for (let j = 0; j < g.nX; j++) xs[j] = y[j] * columnScale[j];
      op.gradient(dz, xs, gradBuf);
      for (let i = 0; i < g.nW; i++) out[i] = rowK[i] * gradBuf[i];
      op.forward(W, xs, zFull);
      for (let k = 0; k < nA; k++) out[g.nW + k] = rowW[k] * zFull[active[k]];
    },
    applyTranspose(r, out) {
      for (let i = 0; i < g.nW; i++) gradBuf[i] = rowK[i] * r[i];
      op.gradientTranspose(dz, gradBuf, out);
      zFull.fill(0);
      for (let k = 0; k < nA; k++) zFull[active[k]] = rowW[k] * r[g.nW + k];
      op.forwardTranspose(W, zFull, xBuf);
      for (let j = 0; j < g.nX; j++) out[j] = (out[j] + xBuf[j]) * columnScale[j];
    },
  };
  const vNorm = norm2(rhs);
  return {
    rows: rhs.length,
    rhs,
    scaled,
    scaledRhs,
    columnScale,
    relativeResidual(x) {
      const gx = op.gradient(dz, x);
      const zx = op.forward(W, x);
      let rr = 0;
      for (let i = 0; i < g.nW; i++) rr += (gx[i] - rhs[i]) ** 2;
      for (let k = 0; k < nA; k++) rr += (zx[active[k]] - rhs[g.nW + k]) ** 2;
      return vNorm > 0 ? Math.sqrt(rr) / vNorm : Math.sqrt(rr);
    },
  };
}

function solveConvLsqr(op: ConvOperator, system: StackedSystem, options: ConvSolveOptions, start?: Float64Array): LayerSolution {
  const g = op.geom;
  // Warm start by solving for the correction: LSQR from 0 keeps the correction in range(Uᵀ), like the start.
  let rhs = system.scaledRhs;
  let y0: Float64Array | undefined;
  if (start) {
    y0 = start.map((v, j) => v / system.columnScale[j]);
    const Ay0 = new Float64Array(system.rows);
    system.scaled.apply(y0, Ay0);
    rhs = system.scaledRhs.map((v, i) => v - Ay0[i]);
  }
  const result = lsqr(system.scaled, rhs, {
    ...lsqrStopping(g, options),
    conlim: 1e14,
    maxIter: options.maxIterations ?? 5000,
    stagnationWindow: 500,
  });
  if (y0) for (let j = 0; j < g.nX; j++) result.x[j] += y0[j];
  options.signal?.throwIfAborted();
  const x = new Float64Array(g.nX);
  for (let j = 0; j < g.nX; j++) x[j] = result.x[j] * system.columnScale[j];
  return {
    x,
    method: 'lsqr',
    equations: system.rows,
    relativeResidual: system.relativeResidual(x),
    iterations: result.iterations,
    conditionEstimate: result.aCond,
  };
}

/**
 * Tolerance and stop rule of every LSQR solve of a layer: near machine precision on small layers (exact gradients
 * must give the exact input, docs/algorithm.md §8.4); on image-sized layers each iteration costs seconds, and 1e-10 is
 * already far below what an image can show. Stops on cancellation and on the layer's deadline.
 */
function lsqrStopping(g: ConvGeometry, options: ConvSolveOptions): { atol: number; btol: number; shouldStop: () => boolean } {
  const tolerance = options.tolerance ?? (g.nX > LARGE_LAYER_UNKNOWNS ? 1e-10 : 1e-15);
  const deadline = options.deadline ?? Date.now() + DEFAULT_LAYER_BUDGET_MS;
  return { atol: tolerance, btol: tolerance, shouldStop: () => options.signal?.aborted === true || Date.now() > deadline };
}

/**
 * Solves every input channel from its own gradient block when the block has full column rank (then the gradient
 * rows alone determine the input). Returns undefined when some block is rank deficient.
 */
function solveByChannelBlocks(g: ConvGeometry, dz: Float64Array, G: Float64Array): { x: Float64Array } | undefined {
  const HW = g.height * g.width;
  const rowsPerBlock = g.outPerGroup * g.kernel[0] * g.kernel[1];
  if (rowsPerBlock < HW) return undefined;
  // Keep the factorisation small: it is done once per group.
  if (rowsPerBlock * HW * HW > DEFAULT_DENSE_FLOP_BUDGET) return undefined;
  const x = new Float64Array(g.nX);
  for (let group = 0; group < g.groups; group++) {
    const block = channelGradientBlock(g, dz, group);
    const factor = lstsqFactor(block);
    if (factor.rank < HW) return undefined;
    const rhs = new Float64Array(rowsPerBlock);
    for (let cRel = 0; cRel < g.inPerGroup; cRel++) {
      const c = group * g.inPerGroup + cRel;
      let row = 0;
      for (let fRel = 0; fRel < g.outPerGroup; fRel++) {
        const f = group * g.outPerGroup + fRel;
        for (let a = 0; a < g.kernel[0]; a++) for (let b = 0; b < g.kernel[1]; b++) rhs[row++] = G[weightIndex(g, f, cRel, a, b)];
      }
      x.set(factor.solve(rhs).x, c * HW);
    }
  }
  return { x };
}

/** The (C_out/g·k_h·k_w) × (H·W) block of K(δz) shared by the input channels of one group. */
export function channelGradientBlock(g: ConvGeometry, dz: Float64Array, group: number): DenseMatrix {
  const [kh, kw] = g.kernel;
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const [pt, pl] = g.pads;
  const HW = g.height * g.width;
  const M = zeros(g.outPerGroup * kh * kw, HW);
  let row = 0;
  for (let fRel = 0; fRel < g.outPerGroup; fRel++) {
    const f = group * g.outPerGroup + fRel;
    const dzBase = f * g.outHeight * g.outWidth;
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const base = row * HW;
        for (let u = 0; u < g.outHeight; u++) {
          const i = u * sh + a * dh - pt;
          if (i < 0 || i >= g.height) continue;
          for (let v = 0; v < g.outWidth; v++) {
            const j = v * sw + b * dw - pl;
            if (j < 0 || j >= g.width) continue;
            M.data[base + i * g.width + j] += dz[dzBase + u * g.outWidth + v];
          }
        }
        row++;
      }
    }
  }
  return M;
}

function denseStackedMatrix(op: ConvOperator, W: Float64Array, dz: Float64Array, active: number[]): DenseMatrix {
  const K = op.gradientCsr(dz);
  const Wf = op.forwardCsr(W);
  const Wa = selectRows(Wf, active);
  return csrToDense(csrVStack(K, Wa));
}

function selectRows(A: Csr, rows: number[]): Csr {
  let nnz = 0;
  for (const r of rows) nnz += A.rowPtr[r + 1] - A.rowPtr[r];
  const rowPtr = new Int32Array(rows.length + 1);
  const colIdx = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  let k = 0;
  rows.forEach((r, i) => {
    for (let p = A.rowPtr[r]; p < A.rowPtr[r + 1]; p++) {
      colIdx[k] = A.colIdx[p];
      values[k] = A.values[p];
      k++;
    }
    rowPtr[i + 1] = k;
  });
  return { rows: rows.length, cols: A.cols, rowPtr, colIdx, values };
}

/**
 * Average pooling has no parameters: only its forward rows P x = y. The minimum-norm solution spreads each
 * pooled value evenly over its window (the lost detail cannot come back from this layer).
 */
export function solveAvgPool(
  apply: (x: Float64Array) => Float64Array,
  applyTranspose: (y: Float64Array) => Float64Array,
  nX: number,
  y: Float64Array,
): LayerSolution {
  const A: LinearOperator = {
    rows: y.length,
    cols: nX,
    apply: (x, out) => out.set(apply(x)),
    applyTranspose: (r, out) => out.set(applyTranspose(r)),
  };
  const res = lsqr(A, y, { atol: 1e-15, btol: 1e-15, maxIter: 2000 });
  const Px = apply(res.x);
  let rr = 0;
  for (let i = 0; i < y.length; i++) rr += (Px[i] - y[i]) ** 2;
  const yn = norm2(y);
  return { x: res.x, method: 'avg-pool-lstsq', equations: y.length, iterations: res.iterations, relativeResidual: yn > 0 ? Math.sqrt(rr) / yn : 0 };
}
