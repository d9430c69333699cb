// One layer of the closed-form recursion (docs/algorithm.md §3.1, §3.2, §5.3, §5.4): recover a layer's input from its
// weight gradient (gradient rows K(δz) x = vec G) and its pre-activation (forward rows W_op x = z − b).
//
// A conv layer's input is the minimum-norm least-squares solution of the stacked system, by the cheapest exact route
// (the numbers of docs/algorithm.md §5.4):
//   1. gradient rows — K(δz) is block-diagonal over input channels and stride residue classes, and the channels of a
//      group share the class blocks: one small pivoted QR per class solves the gradient rows of every channel exactly
//      (layerSolveNullSpace.ts); when K has no null space that is the answer (CNN6 layers 3–6);
//   2. wide layers: when the forward rows alone have full column rank (a band Cholesky factor of W_opᵀ W_op says so),
//      LSQR preconditioned by that factor (layerSolveBanded.ts; CNN6 layer 1);
//   3. a dense complete orthogonal decomposition of the stacked system when it is small enough to factor;
//   4. otherwise the gradient rows exactly and LSQR for the forward rows over null(K) (layerSolveNullSpace.ts; CNN6
//      layer 2, every deficient stride-2 layer);
//   5. layers too large to factor even by class: matrix-free LSQR on the row-equilibrated stacked system, after the
//      forward rows alone when they are enough.
// No route scales the columns: LSQR on a column-scaled operator returns the least scaled norm, which on a
// rank-deficient layer is another solution (0.3–0.9 dB below the minimum-norm one on a thin stride-2 layer,
// bench/minimum-norm.ts).
import { ConvOperator, FullyConnectedOperator } from '../numerics/convOperators';
import { norm2, type DenseMatrix } from '../numerics/dense';
import type { LinearOperator } from '../numerics/linearOperator';
import { lsqr } from '../numerics/lsqr';
import { lstsqMinNorm } from '../numerics/qr';
import { csrToDense, csrVStack, type Csr } from '../numerics/sparse';
import { solveByForwardBand } from './layerSolveBanded';
import { factorGradientClasses, gradientRowsMayDetermine, solveOverGradientNullSpace } from './layerSolveNullSpace';
import { ConvLayerSystem, DEFAULT_LAYER_BUDGET_MS, lsqrStopping, type ConvSolveOptions, type LayerSolution } from './layerSystem';

export type { ConvSolveOptions, LayerSolution };

const DEFAULT_DENSE_FLOP_BUDGET = 3e9;

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
  const layerOptions = { ...options, deadline: options.deadline ?? Date.now() + DEFAULT_LAYER_BUDGET_MS };
  const system = new ConvLayerSystem(op, W, dz, G, forwardTarget);
  // Factor K's class blocks first only when they can determine the input (their rows cover their pixels), else
  // after the cheaper wide-layer route had its chance.
  const tryClasses = () => factorGradientClasses(system);
  let classes = gradientRowsMayDetermine(g) ? tryClasses() : null;
  if (classes && (classes.nullity === 0 || system.active.length === 0)) return solveOverGradientNullSpace(system, classes, layerOptions);
  const banded = solveByForwardBand(system, layerOptions);
  if (banded) return banded;
  if (system.rows * g.nX * g.nX <= (options.denseFlopBudget ?? DEFAULT_DENSE_FLOP_BUDGET)) return solveDense(system);
  if (classes === null) classes = tryClasses();
  if (classes) return solveOverGradientNullSpace(system, classes, layerOptions);
  return solveStackedLsqr(system, layerOptions);
}

/** Route 3: minimum-norm least squares by a complete orthogonal decomposition of the dense stacked system. */
export function solveDense(system: ConvLayerSystem): LayerSolution {
  const A = denseStackedMatrix(system.op, system.W, system.dz, Array.from(system.active));
  const { x, rank } = lstsqMinNorm(A, system.rhs);
  return { x, method: 'dense-lstsq', equations: system.rows, rank, relativeResidual: system.relativeResidual(x) };
}

/** Iterations given to the forward rows alone before falling back to the stacked system. */
const FORWARD_ONLY_MAX_ITERATIONS = 100;
/** Both residuals below this: the forward-only solution also satisfies the gradient rows. */
const CONSISTENT_RESIDUAL = 1e-7;

/**
 * Route 5, for layers too large to factor by class: LSQR on the stacked system, every row scaled to unit norm (K rows
 * scale with |δz| of their filter, W rows with their filter's weights). Row scaling is a left scaling: LSQR from 0
 * still returns the minimum-norm solution (for a consistent system; a least-squares one in the scaled rows otherwise).
 *
 * When there are at least as many known forward rows as unknowns, W_op alone is often well conditioned (a wide first
 * layer: a dozen LSQR iterations), while the gradient rows, which scale with |δz|, slow the stacked system down by
 * orders of magnitude. So LSQR first runs on the forward rows alone; its solution lies in range(W_opᵀ) ⊂ range(Uᵀ),
 * so when it also satisfies the gradient rows it is the stacked system's minimum-norm solution, and otherwise the
 * stacked LSQR solves for the correction (which stays in range(Uᵀ) too).
 */
export function solveStackedLsqr(system: ConvLayerSystem, options: ConvSolveOptions): LayerSolution {
  const g = system.geom;
  const { op, W, dz, active } = system;
  const nA = active.length;
  const rowW = system.forwardRowScales();
  const kRow2 = op.gradient(
    dz.map((v) => v * v),
    new Float64Array(g.nX).fill(1),
  );
  const rowK = kRow2.map((v) => (v > 0 ? 1 / Math.sqrt(v) : 0));
  const rowScale = new Float64Array(system.rows);
  rowScale.set(rowK, 0);
  rowScale.set(rowW, g.nW);
  const scaledRhs = system.rhs.map((v, i) => v * rowScale[i]);

  const zFull = new Float64Array(g.nZ);
  const gradBuf = new Float64Array(g.nW);
  const xBuf = new Float64Array(g.nX);
  const forwardRows: LinearOperator = {
    rows: nA,
    cols: g.nX,
    apply(x, out) {
      op.forward(W, x, zFull);
      for (let k = 0; k < nA; k++) out[k] = rowW[k] * zFull[active[k]];
    },
    applyTranspose(r, out) {
      zFull.fill(0);
      for (let k = 0; k < nA; k++) zFull[active[k]] = rowW[k] * r[k];
      op.forwardTranspose(W, zFull, out);
    },
  };
  const stacked: LinearOperator = {
    rows: system.rows,
    cols: g.nX,
    apply(x, out) {
      op.gradient(dz, x, gradBuf);
      for (let i = 0; i < g.nW; i++) out[i] = rowK[i] * gradBuf[i];
      forwardRows.apply(x, out.subarray(g.nW));
    },
    applyTranspose(r, out) {
      for (let i = 0; i < g.nW; i++) gradBuf[i] = rowK[i] * r[i];
      op.gradientTranspose(dz, gradBuf, out);
      forwardRows.applyTranspose(r.subarray(g.nW), xBuf);
      for (let j = 0; j < g.nX; j++) out[j] += xBuf[j];
    },
  };

  let start: Float64Array | undefined;
  if (nA >= g.nX) {
    const forwardOnly = lsqr(forwardRows, scaledRhs.subarray(g.nW), { ...lsqrStopping(g, options), maxIter: FORWARD_ONLY_MAX_ITERATIONS });
    options.signal?.throwIfAborted();
    const residual = system.relativeResidual(forwardOnly.x);
    const converged = forwardOnly.istop !== 7 && forwardOnly.istop !== 8;
    if (converged && residual <= CONSISTENT_RESIDUAL) {
      return {
        x: forwardOnly.x,
        method: 'lsqr-forward',
        equations: system.rows,
        relativeResidual: residual,
        iterations: forwardOnly.iterations,
        conditionEstimate: forwardOnly.aCond,
      };
    }
    start = forwardOnly.x;
  }
  // Warm start by solving for the correction: LSQR from 0 keeps the correction in range(Uᵀ), like the start.
  let rhs = scaledRhs;
  if (start) {
    const Ax0 = new Float64Array(system.rows);
    stacked.apply(start, Ax0);
    rhs = scaledRhs.map((v, i) => v - Ax0[i]);
  }
  const result = lsqr(stacked, rhs, {
    ...lsqrStopping(g, options),
    conlim: 1e14,
    maxIter: options.maxIterations ?? 5000,
    stagnationWindow: 500,
  });
  options.signal?.throwIfAborted();
  const x = result.x;
  if (start) for (let j = 0; j < g.nX; j++) x[j] += start[j];
  return {
    x,
    method: 'lsqr',
    equations: system.rows,
    relativeResidual: system.relativeResidual(x),
    iterations: result.iterations,
    conditionEstimate: result.aCond,
  };
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
