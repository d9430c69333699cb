// The gradient rows solved exactly, the forward rows over what they leave open (docs/algorithm.md §5.4, routes 1 and 4).
//
// K(δz) is block-diagonal over input channels and stride residue classes, and the channels of one group share the
// class blocks (§4.2 effect 2). One pivoted QR of every class block Bᵀ (pixels × rows) gives, for every channel, the
// minimum-norm solution x_K = K⁺ vec G and an orthonormal basis of the class's row space. Every solution of the
// gradient rows is x_K + y with y in null(K), and ‖x_K + y‖² = ‖x_K‖² + ‖y‖², so the minimum-norm solution of the
// layer is x_K + y with y the minimum-norm least-squares solution of W_op P_N y = (z − b) − W_op x_K (P_N: the
// orthogonal projector onto null(K)). LSQR started from 0 on the operator W_op P_N returns exactly that y: its iterates
// stay in range(P_N W_opᵀ), which lies in null(K) and is orthogonal to the null space of W_op P_N. Rows are equilibrated
// (a left scaling, which keeps the minimum-norm property); the columns are not scaled (that would not).
//
// For a consistent system this is U⁺V; for an inconsistent one the gradient rows are fitted first. The reduced problem
// lives on the classes whose block has a null space: a stride-2 layer with a rank-deficient class often has a single
// such class, reached by a single tap (CNN6 layer 2: 540 of 3468 unknowns, condition 4 instead of 16 for the stacked
// system), so each LSQR iteration is a 1×1 convolution.
import { axisMaps, groupGeometry, type ConvGeometry } from '../numerics/convGeometry';
import { gradientClassBlockTransposed, residueClasses, type ResidueClass } from '../numerics/convResidueClasses';
import { EPS, matMul, transpose, zeros, type DenseMatrix } from '../numerics/dense';
import type { LinearOperator } from '../numerics/linearOperator';
import { lsqr } from '../numerics/lsqr';
import { applyQt, formQ, qrcp, type QrcpResult } from '../numerics/qr';
import { lsqrStopping, type ConvLayerSystem, type ConvSolveOptions, type LayerSolution } from './layerSystem';

/** Largest total cost (flops of the pivoted QRs, ~4·pixels·rows·rank per class block and group). */
const CLASS_FACTOR_FLOP_BUDGET = 2e9;
const CLASS_FACTOR_BYTE_BUDGET = 256 * 2 ** 20;

/** One class block of one group, factored. */
interface ClassFactor {
  group: number;
  cls: ResidueClass;
  rank: number;
  /**
   * The projector onto the block's null space, as an orthonormal basis B: P_N = B Bᵀ, or I − B Bᵀ when `complement`
   * (B then spans the row space; whichever basis is narrower). Null when the block has full column rank.
   */
  nullProjector: { basis: DenseMatrix; complement: boolean } | null;
  /**
   * The minimum-norm least-squares solutions of the gradient rows of the group's channels: the right-hand sides are
   * the columns of `rhs` (rows × channels), the result is pixels × channels.
   */
  solve(rhs: DenseMatrix): DenseMatrix;
}

export interface GradientClassFactors {
  /** rank K(δz). */
  rank: number;
  /** dim null(K) over the covered pixels: the unknowns the gradient rows leave open. */
  nullity: number;
  /** x_K = K⁺ vec G: the minimum-norm solution of the gradient rows (0 on uncovered pixels). */
  gradientSolution: Float64Array;
  /** Flags per kernel tap (a·k_w + b') of the classes with a null space: the taps W_op P_N needs. */
  nullTaps: Uint8Array;
  /** out = P_N y (0 outside the classes with a null space and on uncovered pixels). */
  projectOntoNullSpace(y: Float64Array, out: Float64Array): void;
}

/**
 * Whether K(δz) can have full column rank at all: every class needs at least as many rows (filters × taps of the
 * class) as pixels (the lattice bound of docs/algorithm.md §4.2).
 */
export function gradientRowsMayDetermine(g: ConvGeometry): boolean {
  const gg = groupGeometry(g);
  const { rows, cols } = axisMaps(gg);
  return residueClasses(gg, rows, cols).every((c) => gg.outChannels * c.taps.length >= c.pixels.length);
}

/**
 * Factors every class block of K(δz) and solves the gradient rows. Undefined when the factorisations would exceed the
 * budget (image-sized stride-1 layers: a single class block of H·W pixels).
 */
export function factorGradientClasses(system: ConvLayerSystem): GradientClassFactors | undefined {
  const g = system.geom;
  const gg = groupGeometry(g);
  const { rows, cols } = axisMaps(gg);
  const classes = residueClasses(gg, rows, cols).filter((c) => c.pixels.length > 0);
  let flops = 0;
  let bytes = 0;
  for (const c of classes) {
    const n = c.pixels.length;
    const m = gg.outChannels * c.taps.length;
    flops += g.groups * 4 * n * m * Math.min(n, m);
    bytes += g.groups * 8 * n * (m + n);
  }
  if (flops > CLASS_FACTOR_FLOP_BUDGET || bytes > CLASS_FACTOR_BYTE_BUDGET) return undefined;

  const perGroupDz = gg.outChannels * g.outHeight * g.outWidth;
  const blocks = [];
  let largestColumn = 0;
  let largestSide = 0;
  for (let group = 0; group < g.groups; group++) {
    const dz = system.dz.subarray(group * perGroupDz, (group + 1) * perGroupDz);
    for (const cls of classes) {
      const Bt = gradientClassBlockTransposed(gg, cls, dz, rows, cols);
      blocks.push({ group, cls, Bt });
      largestColumn = Math.max(largestColumn, largestColumnNorm(Bt));
      largestSide = Math.max(largestSide, Bt.rows, Bt.cols);
    }
  }
  // One rank threshold for all of K (relative to its largest row), as for the dense stacked system.
  const tol = largestColumn * largestSide * EPS;
  const factors = blocks.map(({ group, cls, Bt }) => factorClass(group, cls, Bt, tol));
  return assemble(system, factors);
}

function largestColumnNorm(A: DenseMatrix): number {
  const sums = new Float64Array(A.cols);
  for (let i = 0; i < A.rows; i++) for (let j = 0; j < A.cols; j++) sums[j] += A.data[i * A.cols + j] ** 2;
  return Math.sqrt(sums.reduce((a, b) => Math.max(a, b), 0));
}

/**
 * A class block B (rows × pixels) with at least as many rows as pixels usually has full column rank: one pivoted QR of
 * B, B Π = Q R, and x = Π R⁻¹ (Qᵀ g)[0..n). Otherwise (fewer rows, or rank deficient) the block is factored transposed,
 * Bᵀ Π = Q R at rank r, which gives B = Π R₁ᵀ Q₁ᵀ: the row space of B is span Q₁, and the minimum-norm least-squares
 * solution of B x = g is x = Q₁ w with w the least-squares solution of R₁ᵀ w = Πᵀ g (R₁ᵀ has full column rank; it is
 * square triangular when B has full row rank).
 */
function factorClass(group: number, cls: ResidueClass, Bt: DenseMatrix, tol: number): ClassFactor {
  const npx = Bt.rows;
  const nrows = Bt.cols;
  if (nrows === 0) {
    return { group, cls, rank: 0, nullProjector: { basis: zeros(npx, 0), complement: true }, solve: (rhs) => zeros(npx, rhs.cols) };
  }
  if (nrows >= npx) {
    const f = qrcp(transpose(Bt), { tol, inPlace: true });
    if (f.rank === npx) return { group, cls, rank: npx, nullProjector: null, solve: (rhs) => solveFullColumnRank(f, rhs) };
  }
  const f = qrcp(Bt, { tol, inPlace: true });
  const r = f.rank;
  const rowBasis = formQ(f, 0, r);
  const nullProjector = npx - r < r ? { basis: formQ(f, r, npx), complement: false } : { basis: rowBasis, complement: true };
  // R₁ᵀ: nrows × r, entry (k, i) = R[i][k] (R₁ is the first r rows of the factor's upper triangle)
  const R1t = zeros(nrows, r);
  for (let i = 0; i < r; i++) for (let k = i; k < nrows; k++) R1t.data[k * r + i] = f.qr.data[i * nrows + k];
  // Square: forward substitution with R₁ᵀ. Tall (dependent gradient rows): least squares by a QR of R₁ᵀ, which has
  // full column rank (its diagonal is above the K threshold), so no second rank decision is needed.
  const tall = r < nrows && r > 0 ? qrcp(R1t, { tol: 0 }) : null;
  const coordinates = (rhs: DenseMatrix): DenseMatrix => {
    const C = rhs.cols;
    const P = zeros(nrows, C);
    for (let k = 0; k < nrows; k++) P.data.set(rhs.data.subarray(f.perm[k] * C, (f.perm[k] + 1) * C), k * C);
    if (tall) return solveFullColumnRank(tall, P);
    const w = zeros(r, C);
    for (let i = 0; i < r; i++) {
      const row = w.data.subarray(i * C, (i + 1) * C);
      row.set(P.data.subarray(i * C, (i + 1) * C));
      for (let k = 0; k < i; k++) axpy(-R1t.data[i * r + k], w.data.subarray(k * C, (k + 1) * C), row);
      scale(1 / R1t.data[i * r + i], row);
    }
    return w;
  };
  return { group, cls, rank: r, nullProjector, solve: (rhs) => matMul(rowBasis, coordinates(rhs)) };
}

/** Least squares A x = b for every column of b, from a pivoted QR of A (m × n) of full column rank: x = Π R⁻¹ (Qᵀ b)[0..n). */
function solveFullColumnRank(f: QrcpResult, rhs: DenseMatrix): DenseMatrix {
  const n = f.qr.cols;
  const C = rhs.cols;
  const P = { rows: rhs.rows, cols: C, data: rhs.data.slice() };
  applyQt(f, P);
  const R = f.qr.data;
  for (let i = n - 1; i >= 0; i--) {
    const row = P.data.subarray(i * C, (i + 1) * C);
    for (let j = i + 1; j < n; j++) axpy(-R[i * n + j], P.data.subarray(j * C, (j + 1) * C), row);
    scale(1 / R[i * n + i], row);
  }
  const x = zeros(n, C);
  for (let j = 0; j < n; j++) x.data.set(P.data.subarray(j * C, (j + 1) * C), f.perm[j] * C);
  return x;
}

function axpy(a: number, x: Float64Array, y: Float64Array): void {
  if (a === 0) return;
  for (let i = 0; i < y.length; i++) y[i] += a * x[i];
}

function scale(a: number, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i] *= a;
}

/** x_K over every channel, the projector P_N and the taps it needs, from the factored class blocks. */
function assemble(system: ConvLayerSystem, factors: ClassFactor[]): GradientClassFactors {
  const g = system.geom;
  const [kh, kw] = g.kernel;
  const HW = g.height * g.width;
  const gradientSolution = new Float64Array(g.nX);
  const nullTaps = new Uint8Array(kh * kw);
  let rank = 0;
  let nullity = 0;
  const open: { factor: ClassFactor; channels: number[] }[] = [];
  for (const factor of factors) {
    const { cls, group } = factor;
    const npx = cls.pixels.length;
    const channels = Array.from({ length: g.inPerGroup }, (_, cRel) => group * g.inPerGroup + cRel);
    rank += g.inPerGroup * factor.rank;
    if (factor.rank < npx) {
      nullity += g.inPerGroup * (npx - factor.rank);
      for (const { a, b } of cls.taps) nullTaps[a * kw + b] = 1;
      open.push({ factor, channels });
    }
    if (factor.rank === 0) continue;
    // the gradient rows of every channel of the group, one column each: G[f, c', a, b'] for the class's taps
    const rhs = zeros(g.outPerGroup * cls.taps.length, channels.length);
    let row = 0;
    for (let fRel = 0; fRel < g.outPerGroup; fRel++) {
      const f = group * g.outPerGroup + fRel;
      for (const { a, b } of cls.taps) {
        for (let cRel = 0; cRel < g.inPerGroup; cRel++) rhs.data[row * channels.length + cRel] = system.G[((f * g.inPerGroup + cRel) * kh + a) * kw + b];
        row++;
      }
    }
    const x = factor.solve(rhs); // pixels × channels
    channels.forEach((c, cRel) => {
      for (let q = 0; q < npx; q++) gradientSolution[c * HW + cls.pixels[q]] = x.data[q * channels.length + cRel];
    });
  }
  const scratch = new ProjectionScratch(HW);
  const projectOntoNullSpace = (y: Float64Array, out: Float64Array): void => {
    out.fill(0);
    for (const { factor, channels } of open) {
      const { basis, complement } = factor.nullProjector!;
      projectChannels(basis, complement, factor.cls.pixels, HW, channels, y, out, scratch);
    }
  };
  return { rank, nullity, gradientSolution, nullTaps, projectOntoNullSpace };
}

/** Work arrays of projectChannels: pixel values and basis coefficients of four channels. */
class ProjectionScratch {
  readonly values: Float64Array[];
  readonly coefficients: Float64Array[];
  constructor(pixels: number) {
    this.values = Array.from({ length: 4 }, () => new Float64Array(pixels));
    this.coefficients = Array.from({ length: 4 }, () => new Float64Array(pixels));
  }
}

/**
 * out = B Bᵀ y (or y − B Bᵀ y with `complement`) on one class's pixels of the given channels, B orthonormal
 * (pixels × k). Four channels share each pass over B: one load of a basis entry serves four multiply-adds, and the
 * four sums are independent (about 3× faster than one channel at a time in V8).
 */
function projectChannels(
  B: DenseMatrix,
  complement: boolean,
  pixels: Int32Array,
  HW: number,
  channels: number[],
  y: Float64Array,
  out: Float64Array,
  scratch: ProjectionScratch,
): void {
  const npx = pixels.length;
  const k = B.cols;
  const b = B.data;
  const [v0, v1, v2, v3] = scratch.values;
  const [c0, c1, c2, c3] = scratch.coefficients;
  for (let first = 0; first < channels.length; first += 4) {
    const count = Math.min(4, channels.length - first);
    const last = first + count - 1;
    const b0 = channels[first] * HW;
    const b1 = channels[Math.min(first + 1, last)] * HW;
    const b2 = channels[Math.min(first + 2, last)] * HW;
    const b3 = channels[Math.min(first + 3, last)] * HW;
    for (let q = 0; q < npx; q++) {
      const p = pixels[q];
      v0[q] = y[b0 + p];
      v1[q] = y[b1 + p];
      v2[q] = y[b2 + p];
      v3[q] = y[b3 + p];
    }
    c0.fill(0, 0, k);
    c1.fill(0, 0, k);
    c2.fill(0, 0, k);
    c3.fill(0, 0, k);
    for (let q = 0; q < npx; q++) {
      const row = q * k;
      const y0 = v0[q];
      const y1 = v1[q];
      const y2 = v2[q];
      const y3 = v3[q];
      for (let i = 0; i < k; i++) {
        const bi = b[row + i];
        c0[i] += bi * y0;
        c1[i] += bi * y1;
        c2[i] += bi * y2;
        c3[i] += bi * y3;
      }
    }
    for (let q = 0; q < npx; q++) {
      const row = q * k;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let i = 0; i < k; i++) {
        const bi = b[row + i];
        s0 += bi * c0[i];
        s1 += bi * c1[i];
        s2 += bi * c2[i];
        s3 += bi * c3[i];
      }
      // with fewer than four channels left, the spare lanes repeat the last one and are not written
      const p = pixels[q];
      out[b0 + p] = complement ? v0[q] - s0 : s0;
      if (count > 1) out[b1 + p] = complement ? v1[q] - s1 : s1;
      if (count > 2) out[b2 + p] = complement ? v2[q] - s2 : s2;
      if (count > 3) out[b3 + p] = complement ? v3[q] - s3 : s3;
    }
  }
}

/**
 * The layer's minimum-norm solution x_K + y, y = argmin-norm ‖D (W_op P_N y − r)‖ by LSQR (D: forward-row
 * equilibration, r = (z − b) − W_op x_K on the kept units). See the file header for why this is exact.
 */
export function solveOverGradientNullSpace(system: ConvLayerSystem, classes: GradientClassFactors, options: ConvSolveOptions): LayerSolution {
  const g = system.geom;
  const { op, W, active } = system;
  const xK = classes.gradientSolution;
  if (classes.nullity === 0 || active.length === 0) {
    return { x: xK, method: 'gradient-blocks', equations: system.rows, rank: classes.rank, relativeResidual: system.relativeResidual(xK) };
  }
  const rowScale = system.forwardRowScales();
  const zK = op.forward(W, xK);
  const rhs = Float64Array.from(active, (r, k) => rowScale[k] * (system.target[r] - zK[r]));
  const projected = new Float64Array(g.nX);
  const zBuffer = new Float64Array(g.nZ);
  const taps = classes.nullTaps;
  const A: LinearOperator = {
    rows: active.length,
    cols: g.nX,
    apply(y, out) {
      classes.projectOntoNullSpace(y, projected);
      op.forward(W, projected, zBuffer, taps);
      for (let k = 0; k < active.length; k++) out[k] = rowScale[k] * zBuffer[active[k]];
    },
    applyTranspose(r, out) {
      zBuffer.fill(0);
      for (let k = 0; k < active.length; k++) zBuffer[active[k]] = rowScale[k] * r[k];
      op.forwardTranspose(W, zBuffer, projected, taps);
      classes.projectOntoNullSpace(projected, out);
    },
  };
  const result = lsqr(A, rhs, { ...lsqrStopping(g, options), conlim: 1e14, maxIter: options.maxIterations ?? 5000, stagnationWindow: 500 });
  options.signal?.throwIfAborted();
  classes.projectOntoNullSpace(result.x, projected);
  const x = xK.map((v, j) => v + projected[j]);
  return {
    x,
    method: 'null-space-lsqr',
    equations: system.rows,
    relativeResidual: system.relativeResidual(x),
    iterations: result.iterations,
    conditionEstimate: result.aCond,
  };
}
