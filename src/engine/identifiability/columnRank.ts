// The numerical rank of a matrix M whose columns arrive one at a time (Jacobian products Jᵀu for random u): a streamed
// Householder QR in arrival order, a stopping rule (enough columns, or the newest ones carry nothing new), and a
// rank-revealing finish on the trailing block of R. Random columns need no pivoting for the leading block: each
// new column's residual is the energy M still has outside the span so far (Halko, Martinsson & Tropp 2011, §4.3).
import { estimateNorm2 } from '../numerics/normEstimate';
import { qrcp } from '../numerics/qr';
import { StreamingQr } from '../numerics/streamingQr';
import type { LinearOperator } from '../numerics/linearOperator';

export interface ColumnRank {
  /** Number of singular values of M above `tolerance`. */
  rank: number;
  /** σ_max(M) (power iteration, 1e-3 relative). */
  sigmaMax: number;
  /** Absolute tolerance: relativeTolerance · σ_max. */
  tolerance: number;
  /** Smallest kept and largest dropped singular value estimates, relative to the tolerance (margins of the decision). */
  keptOverTolerance: number;
  droppedOverTolerance: number;
  columns: number;
}

/** The leading block of R is kept as it is when its diagonal stays this many tolerances above the cut… */
const LEADING_MARGIN = 16;
/**
 * …and its smallest singular value this many: at 2 the conv-bn-maxpool fixture's rank came out 2543 with kept and
 * dropped values within 3x of the cut, where an SVD of the same products shows 2542 and a gap of 10⁴ (float64 SVD, numpy).
 */
const LEAD_CONDITION = 32;

/**
 * Columns of M, streamed into a QR factorisation, with the rule that says when more columns would not change the
 * rank: `rows` columns give every direction there is; before that, `quietColumns` consecutive columns whose new
 * part is under a quarter of the tolerance mean the columns span all of M's range above it.
 */
export class StreamedColumnRank {
  private readonly qr: StreamingQr;
  private quiet = 0;
  private checked = 0;
  /** σ_max of the first columns, extrapolated with √(columns): the top direction's energy grows linearly. */
  private earlySigma?: { value: number; columns: number };

  constructor(
    readonly rows: number,
    readonly relativeTolerance: number,
    private readonly quietColumns = 32,
  ) {
    this.qr = new StreamingQr(rows);
  }

  get columns(): number {
    return this.qr.columns;
  }

  add(column: ArrayLike<number>): void {
    this.qr.add(column);
  }

  /**
   * True when the columns so far decide the rank: `rows + oversampling` columns, or a run of quiet ones. Factors the
   * pending columns first (call it once a panel is full, or whenever a decision is wanted).
   */
  settled(oversampling: number): boolean {
    if (this.qr.columns >= this.rows + oversampling) return true;
    this.qr.flush();
    const d = this.qr.diagonal();
    if (!this.earlySigma && d.length >= 64) this.earlySigma = { value: estimateNorm2(rOperator(this.qr.rColumns, this.rows)), columns: d.length };
    if (!this.earlySigma) return false;
    const cut = (this.relativeTolerance * this.earlySigma.value * Math.sqrt(d.length / this.earlySigma.columns)) / 4;
    for (; this.checked < d.length; this.checked++) this.quiet = d[this.checked] < cut ? this.quiet + 1 : 0;
    return this.quiet >= this.quietColumns;
  }

  /** The rank of the columns added so far. */
  decide(): ColumnRank {
    this.qr.flush();
    return rankOfR(this.qr.rColumns, this.rows, this.relativeTolerance);
  }
}

/** R (columns of length ≤ rows, upper trapezoidal) as an operator. */
function rOperator(columns: readonly Float64Array[], rows: number): LinearOperator {
  const k = columns.length;
  const m = Math.min(rows, k);
  return {
    rows: m,
    cols: k,
    apply(x, out) {
      out.fill(0);
      for (let j = 0; j < k; j++) {
        const c = columns[j];
        const xj = x[j];
        if (xj === 0) continue;
        for (let i = 0; i < c.length; i++) out[i] += c[i] * xj;
      }
    },
    applyTranspose(y, out) {
      for (let j = 0; j < k; j++) {
        const c = columns[j];
        let s = 0;
        for (let i = 0; i < c.length; i++) s += c[i] * y[i];
        out[j] = s;
      }
    },
  };
}

/**
 * Numerical rank of R at relativeTolerance·σ_max: the leading columns whose diagonal stays well above the cut (and
 * whose block is well conditioned) count as they are; the trailing block, where the decision is made, goes through
 * QR with column pivoting, whose diagonal tracks singular values (σ_{r+j}(M) ≤ σ_j(R22), and within a small factor
 * of it when R11 is well conditioned).
 */
export function rankOfR(columns: readonly Float64Array[], rows: number, relativeTolerance: number): ColumnRank {
  const k = columns.length;
  const m = Math.min(rows, k);
  if (k === 0) return { rank: 0, sigmaMax: 0, tolerance: 0, keptOverTolerance: Infinity, droppedOverTolerance: 0, columns: 0 };
  const sigmaMax = estimateNorm2(rOperator(columns, rows), { relTol: 1e-3 });
  const tolerance = relativeTolerance * sigmaMax;
  if (sigmaMax === 0) return { rank: 0, sigmaMax, tolerance, keptOverTolerance: Infinity, droppedOverTolerance: 0, columns: k };
  let lead = 0;
  while (lead < m && Math.abs(columns[lead][lead]) >= LEADING_MARGIN * tolerance) lead++;
  // The leading block keeps its columns only when it is well conditioned: an ill-conditioned R11 (the last columns
  // of a random sketch fill the range poorly) lets R22 hide a clean gap in M's spectrum. σ_min of a leading block
  // only falls as it grows, so the largest one well above the cut is found by bisection; the rest of R goes to the
  // pivoted factorisation.
  let leadSigmaMin = smallestSingularValueOfTriangle(columns, lead);
  if (leadSigmaMin < LEAD_CONDITION * tolerance) {
    let good = 0;
    let bad = lead;
    leadSigmaMin = Infinity;
    while (bad - good > Math.max(1, bad >> 6)) {
      const mid = (good + bad) >> 1;
      const s = smallestSingularValueOfTriangle(columns, mid);
      if (s >= LEAD_CONDITION * tolerance) {
        good = mid;
        leadSigmaMin = s;
      } else bad = mid;
    }
    lead = good;
  }
  const trailRows = m - lead;
  const trailCols = k - lead;
  let trailRank = 0;
  let kept = lead > 0 ? leadSigmaMin : Infinity;
  let dropped = 0;
  if (trailRows > 0 && trailCols > 0) {
    const S = { rows: trailRows, cols: trailCols, data: new Float64Array(trailRows * trailCols) };
    for (let j = 0; j < trailCols; j++) {
      const c = columns[lead + j];
      for (let i = 0; i < trailRows && lead + i < c.length; i++) S.data[i * trailCols + j] = c[lead + i];
    }
    const f = qrcp(S, { tol: tolerance, inPlace: true });
    trailRank = f.rank;
    if (f.rank > 0) kept = Math.min(kept, f.diag[f.rank - 1]);
    dropped = f.diag.length > f.rank ? f.diag[f.rank] : 0;
  }
  return {
    rank: lead + trailRank,
    sigmaMax,
    tolerance,
    keptOverTolerance: kept / tolerance,
    droppedOverTolerance: dropped / tolerance,
    columns: k,
  };
}

/** σ_min of the leading lead×lead triangle of R by inverse iteration (a few steps: an estimate from above). */
function smallestSingularValueOfTriangle(columns: readonly Float64Array[], lead: number): number {
  if (lead === 0) return Infinity;
  let x = new Float64Array(lead);
  for (let i = 0; i < lead; i++) x[i] = 1 + ((i * 7919) % 13) / 13;
  let estimate = Infinity;
  for (let it = 0; it < 6; it++) {
    const norm = Math.hypot(...chunkNorms(x));
    for (let i = 0; i < lead; i++) x[i] /= norm;
    // z = R⁻ᵀ x (forward substitution on Rᵀ), then y = R⁻¹ z (back substitution): y = (RᵀR)⁻¹ x
    const z = new Float64Array(lead);
    for (let i = 0; i < lead; i++) {
      const c = columns[i];
      let s = x[i];
      for (let l = 0; l < i; l++) s -= c[l] * z[l];
      z[i] = s / c[i];
    }
    const y = z;
    for (let i = lead - 1; i >= 0; i--) {
      y[i] /= columns[i][i];
      const yi = y[i];
      const c = columns[i];
      for (let l = 0; l < i; l++) y[l] -= c[l] * yi;
    }
    const growth = Math.hypot(...chunkNorms(y));
    if (!Number.isFinite(growth) || growth === 0) return 0;
    estimate = 1 / Math.sqrt(growth);
    x = y;
  }
  return estimate;
}

/** Partial norms of 4096-entry chunks (Math.hypot of a long spread would overflow the call stack). */
function chunkNorms(x: Float64Array): number[] {
  const parts: number[] = [];
  for (let i = 0; i < x.length; i += 4096) {
    let s = 0;
    const end = Math.min(x.length, i + 4096);
    for (let t = i; t < end; t++) s += x[t] * x[t];
    parts.push(Math.sqrt(s));
  }
  return parts;
}
