// Blocked Gaussian elimination for rank, with row pivoting and column skipping: the fast path for large structured
// rank tests (dense blocks, banded sparse operators). The kernels apply up to 8 pivot rows per sweep to cut memory
// traffic.
import { EPS, type DenseMatrix } from './dense';
import { csrTranspose, type Csr } from './sparse';

export interface EliminationOptions {
  /**
   * Absolute tolerance: a column whose largest remaining entry is ≤ the threshold is dependent, and entries ≤ the
   * threshold are dropped. The threshold in effect is max(tol, noiseFactor·k·ε·max|U|) after k pivots, where max|U|
   * is the largest entry of the pivot rows: Gaussian elimination's own rounding level (|ΔS| ≲ k·ε·|L||U|), below
   * which a residual carries no information. For well-scaled matrices this is ≤ tol (σ_max·max(m,n)·ε).
   */
  tol: number;
  /** Safety factor on the rounding level (default 32; 0 disables the noise floor). */
  noiseFactor?: number;
  /**
   * Which orientation to eliminate: 'tall' (rows ≥ columns: pivots are chosen among many rows, multipliers stay
   * small and dependent directions show up as clean ~ε residuals), 'wide' (rows ≤ columns: for banded operators
   * far cheaper, since surplus rows never accumulate), or 'asis'. Default: 'tall' for dense, 'wide' for sparse.
   */
  orientation?: 'tall' | 'wide' | 'asis';
  /** Abort (result.aborted = true) once more than this many flops have been spent. Default: no limit. */
  maxFlops?: number;
  /** Pivot rows applied per sweep (1…8, default 8). */
  blockSize?: number;
}

export interface EliminationResult {
  /** Number of pivots (the numerical rank when not aborted). */
  rank: number;
  /** Floating-point operations spent (multiply + add counted as 2). */
  flops: number;
  /** True when maxFlops was hit: `rank` is then only a lower bound. */
  aborted: boolean;
  /** Smallest and largest accepted pivot magnitude. */
  minPivot: number;
  maxPivot: number;
  /** Largest column residual that was declared dependent (0 if none). */
  maxRejected: number;
  /** Threshold in effect at the end (≥ tol; larger only when the elimination's rounding level exceeded tol). */
  finalTol: number;
  /**
   * True when every decision was far from the threshold: minPivot ≥ 1e3·finalTol and maxRejected ≤ finalTol/8.
   * False means the rank may be off by the ambiguous pivots: recompute in the other orientation or with qrcp.
   */
  clearGap: boolean;
  /** Peak number of simultaneously active rows and the circular window width (memory = rows·width·8 bytes). */
  peakActiveRows: number;
  window: number;
}

/** Rows of a matrix as seen by the elimination: extents and a scatter into a circular row buffer. */
interface RowSource {
  rows: number;
  cols: number;
  /** First and last column with a (structural) non-zero; lo > hi for an empty row. */
  lo: Int32Array;
  hi: Int32Array;
  /** Write row r into buf[base + (col mod width)] (the target is zeroed beforehand). */
  scatter(r: number, buf: Float64Array, base: number, width: number): void;
}

/**
 * Rank by blocked Gaussian elimination with row (partial) pivoting and column skipping on a dense matrix
 * (A is not modified). Column j is dependent when max_i |a_ij| ≤ tol among the not-yet-pivot rows after
 * elimination; entries ≤ tol are treated as exact zeros. ~3 GFLOP/s in V8 (8 pivots per sweep).
 * Rank-revealing in practice for generic (random-surrogate) matrices with a clear gap; use qrcp when the
 * decision must be guaranteed.
 */
export function eliminationRank(A: DenseMatrix, opts: EliminationOptions): EliminationResult {
  const { rows: m0, cols: n0, data } = A;
  // the requested orientation is obtained through a transposed view (no copy)
  const orientation = opts.orientation ?? 'tall';
  const tr = orientation === 'asis' ? false : orientation === 'tall' ? m0 < n0 : m0 > n0;
  const m = tr ? n0 : m0;
  const n = tr ? m0 : n0;
  const rs = tr ? 1 : n0; // stride between consecutive "rows" of the eliminated matrix in `data`
  const cs = tr ? n0 : 1; // stride between consecutive "columns"
  const lo = new Int32Array(m);
  const hi = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    let l = 0;
    let h = n - 1;
    const ri = i * rs;
    while (l < n && data[ri + l * cs] === 0) l++;
    while (h >= l && data[ri + h * cs] === 0) h--;
    lo[i] = l;
    hi[i] = h;
  }
  return eliminate(
    {
      rows: m,
      cols: n,
      lo,
      hi,
      scatter(r, buf, base, width) {
        const ri = r * rs;
        let slot = lo[r] % width;
        for (let j = lo[r]; j <= hi[r]; j++) {
          buf[base + slot] = data[ri + j * cs];
          if (++slot === width) slot = 0;
        }
      },
    },
    opts,
  );
}

function needsTranspose(m: number, n: number, orientation: 'tall' | 'wide' | 'asis'): boolean {
  return orientation === 'asis' ? false : orientation === 'tall' ? m < n : m > n;
}

/**
 * Rank of a sparse matrix whose rows are banded in the given column order (e.g. a convolution operator with
 * pixel-major orderings on both sides). By default the matrix is eliminated 'wide' (transposed first when it has
 * more rows than columns): the active front then stays small. Work ≈ 2·rank·(active rows)·(row span).
 */
export function sparseEliminationRank(A0: Csr, opts: EliminationOptions): EliminationResult {
  const A = needsTranspose(A0.rows, A0.cols, opts.orientation ?? 'wide') ? csrTranspose(A0) : A0;
  const { rows: m, rowPtr, colIdx, values } = A;
  const lo = new Int32Array(m);
  const hi = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    let l = 0x7fffffff;
    let h = -1;
    for (let p = rowPtr[i]; p < rowPtr[i + 1]; p++) {
      if (values[p] === 0) continue;
      const j = colIdx[p];
      if (j < l) l = j;
      if (j > h) h = j;
    }
    lo[i] = l;
    hi[i] = h;
  }
  return eliminate(
    {
      rows: m,
      cols: A.cols,
      lo,
      hi,
      scatter(r, buf, base, width) {
        for (let p = rowPtr[r]; p < rowPtr[r + 1]; p++) buf[base + (colIdx[p] % width)] += values[p];
      },
    },
    opts,
  );
}

/** Estimated work of sparseEliminationRank for a CSR matrix (before running it): 2·r·A·S. */
export function estimateSparseEliminationFlops(A0: Csr, orientation: 'tall' | 'wide' | 'asis' = 'wide'): { flops: number; window: number; activeRows: number } {
  const transposed = needsTranspose(A0.rows, A0.cols, orientation);
  const m = transposed ? A0.cols : A0.rows;
  const n = transposed ? A0.rows : A0.cols;
  // row extents in the eliminated orientation
  const lo = new Int32Array(m).fill(0x7fffffff);
  const hi = new Int32Array(m).fill(-1);
  for (let i = 0; i < A0.rows; i++) {
    for (let p = A0.rowPtr[i]; p < A0.rowPtr[i + 1]; p++) {
      const j = A0.colIdx[p];
      const r = transposed ? j : i;
      const c = transposed ? i : j;
      if (c < lo[r]) lo[r] = c;
      if (c > hi[r]) hi[r] = c;
    }
  }
  let span = 0;
  const delta = new Int32Array(n + 1);
  for (let r = 0; r < m; r++) {
    if (hi[r] < lo[r]) continue;
    span = Math.max(span, hi[r] - lo[r] + 1);
    delta[lo[r]]++;
    delta[hi[r] + 1]--;
  }
  let active = 0;
  let peak = 0;
  for (let j = 0; j < n; j++) {
    active += delta[j];
    if (active > peak) peak = active;
  }
  return { flops: 2 * Math.min(m, n) * peak * span, window: span, activeRows: peak };
}

function eliminate(src: RowSource, opts: EliminationOptions): EliminationResult {
  const { rows: m, cols: n, lo, hi } = src;
  const tol = opts.tol;
  const noiseFactor = opts.noiseFactor ?? 32;
  let maxU = 0;
  let thr = tol;
  let maxRejected = 0;
  const maxFlops = opts.maxFlops ?? Infinity;
  const B = Math.max(1, Math.min(8, opts.blockSize ?? 8));

  // rows sorted by first column (counting sort); empty rows dropped
  const bucket = new Int32Array(n + 1);
  let nonEmpty = 0;
  let span = 0;
  for (let r = 0; r < m; r++) {
    if (hi[r] < lo[r]) continue;
    bucket[lo[r] + 1]++;
    nonEmpty++;
    span = Math.max(span, hi[r] - lo[r] + 1);
  }
  for (let j = 0; j < n; j++) bucket[j + 1] += bucket[j];
  const order = new Int32Array(nonEmpty);
  {
    const fill = bucket.slice(0, n);
    for (let r = 0; r < m; r++) if (hi[r] >= lo[r]) order[fill[lo[r]]++] = r;
  }
  // A block holds at most B pivots and spans at most maxCols columns (skipped columns included). Every live entry
  // then lies in [blockStart, blockStart + W): a row admitted at column j ≤ blockStart + maxCols − 1 ends by
  // j + span − 1, and fill never extends a row beyond the end of a row admitted earlier.
  const maxCols = 4 * B;
  const W = span + maxCols;

  let cap = 16;
  let buf = new Float64Array(cap * W);
  let L = new Float64Array(cap * B);
  let slotHi = new Int32Array(cap);
  let colVal = new Float64Array(cap);
  const freeSlots: number[] = [];
  for (let s = cap - 1; s >= 0; s--) freeSlots.push(s);
  const active = new Int32Array(Math.max(1, nonEmpty));
  let nAct = 0;
  const P = new Float64Array(B * W);
  const Phi = new Int32Array(B);

  const grow = (): void => {
    const ncap = cap * 2;
    const nb = new Float64Array(ncap * W);
    nb.set(buf);
    buf = nb;
    const nl = new Float64Array(ncap * B);
    nl.set(L);
    L = nl;
    const nh = new Int32Array(ncap);
    nh.set(slotHi);
    slotHi = nh;
    const nc = new Float64Array(ncap);
    nc.set(colVal);
    colVal = nc;
    for (let s = ncap - 1; s >= cap; s--) freeSlots.push(s);
    cap = ncap;
  };

  const result = (aborted: boolean): EliminationResult => ({
    rank,
    flops,
    aborted,
    minPivot: minPivot === Infinity ? 0 : minPivot,
    maxPivot,
    maxRejected,
    finalTol: thr,
    clearGap: (rank === 0 || minPivot >= 1e3 * thr) && maxRejected <= thr / 8,
    peakActiveRows: peak,
    window: W,
  });
  let next = 0;
  let rank = 0;
  let flops = 0;
  let minPivot = Infinity;
  let maxPivot = 0;
  let peak = 0;
  let j = 0;
  while (j < n) {
    if (nAct === 0) {
      if (next >= nonEmpty) break;
      if (lo[order[next]] > j) j = lo[order[next]];
    }
    const bs = j;
    let t = 0;
    while (t < B && j < n && j - bs < maxCols) {
      // admit rows starting at or before column j
      while (next < nonEmpty && lo[order[next]] <= j) {
        const r = order[next++];
        if (freeSlots.length === 0) grow();
        const s = freeSlots.pop() as number;
        const base = s * W;
        buf.fill(0, base, base + W);
        src.scatter(r, buf, base, W);
        slotHi[s] = hi[r];
        L.fill(0, s * B, s * B + B);
        active[nAct++] = s;
      }
      if (nAct > peak) peak = nAct;
      if (nAct === 0) break;
      // column j of the active rows, updated by the block's earlier pivots
      const cj = j % W;
      const pj = j - bs;
      let best = 0;
      let bq = -1;
      for (let q = 0; q < nAct; q++) {
        const s = active[q];
        let v = buf[s * W + cj];
        const lb = s * B;
        for (let u = 0; u < t; u++) {
          const l = L[lb + u];
          if (l !== 0) v -= l * P[u * W + pj];
        }
        colVal[s] = v;
        const av = Math.abs(v);
        if (av > best) {
          best = av;
          bq = q;
        }
      }
      flops += nAct * (2 * t + 1);
      if (best <= thr) {
        if (best > maxRejected) maxRejected = best;
        j++;
        continue; // dependent column: its small entries are dropped by the sweep
      }
      const ps = active[bq];
      active[bq] = active[--nAct];
      const piv = colVal[ps];
      if (best < minPivot) minPivot = best;
      if (best > maxPivot) maxPivot = best;
      // pivot row over (j, hiP], updated by the block's earlier pivots; zero elsewhere in the window
      let hiP = slotHi[ps];
      const lp = ps * B;
      for (let u = 0; u < t; u++) if (L[lp + u] !== 0 && Phi[u] > hiP) hiP = Phi[u];
      const pt = t * W;
      P.fill(0, pt, pt + W);
      {
        const pbase = ps * W;
        for (let k = j + 1; k <= hiP; k++) P[pt + k - bs] = buf[pbase + (k % W)];
        for (let u = 0; u < t; u++) {
          const l = L[lp + u];
          if (l === 0) continue;
          const pu = u * W;
          const kEnd = Math.min(hiP, Phi[u]);
          for (let k = j + 1; k <= kEnd; k++) P[pt + k - bs] -= l * P[pu + k - bs];
          flops += 2 * Math.max(0, kEnd - j);
        }
        let mu = best;
        for (let k = j + 1; k <= hiP; k++) {
          const av = Math.abs(P[pt + k - bs]);
          if (av > mu) mu = av;
        }
        if (mu > maxU) maxU = mu;
      }
      Phi[t] = hiP;
      for (let q = 0; q < nAct; q++) {
        const s = active[q];
        const v = colVal[s];
        L[s * B + t] = Math.abs(v) > thr ? v / piv : 0;
      }
      freeSlots.push(ps);
      rank++;
      thr = Math.max(tol, noiseFactor * rank * EPS * maxU);
      t++;
      j++;
    }
    // sweep: apply the block's t pivots to columns [j, …) of every active row; clear the consumed columns [bs, j)
    let q = 0;
    while (q < nAct) {
      const s = active[q];
      const base = s * W;
      const lb = s * B;
      let hiMax = -1;
      let nz = 0;
      for (let u = 0; u < t; u++) {
        if (L[lb + u] !== 0) {
          nz++;
          if (Phi[u] > hiMax) hiMax = Phi[u];
        }
      }
      if (nz > 0 && hiMax >= j) {
        const len = hiMax - j + 1;
        const start = j % W;
        const first = Math.min(len, W - start);
        flops += 2 * nz * len;
        if (t === 8 && nz === 8) {
          sweep8(buf, base + start, P, j - bs, first, W, L, lb);
          if (first < len) sweep8(buf, base, P, j - bs + first, len - first, W, L, lb);
        } else {
          for (let u = 0; u < t; u++) {
            const l = L[lb + u];
            if (l === 0) continue;
            const kEnd = Math.min(hiMax, Phi[u]);
            if (kEnd < j) continue;
            const lenU = kEnd - j + 1;
            const firstU = Math.min(lenU, W - start);
            axpyNeg(buf, base + start, P, u * W + j - bs, firstU, l);
            if (firstU < lenU) axpyNeg(buf, base, P, u * W + j - bs + firstU, lenU - firstU, l);
          }
        }
        if (hiMax > slotHi[s]) slotHi[s] = hiMax;
      }
      // consumed columns [bs, j) become exact zeros (eliminated, or dropped as ≤ tol)
      {
        const len = j - bs;
        const start = bs % W;
        const first = Math.min(len, W - start);
        buf.fill(0, base + start, base + start + first);
        if (first < len) buf.fill(0, base, base + len - first);
      }
      L.fill(0, lb, lb + B);
      if (slotHi[s] < j) {
        // nothing left in this row
        freeSlots.push(s);
        active[q] = active[--nAct];
        continue;
      }
      q++;
    }
    if (flops > maxFlops) {
      return result(true);
    }
  }
  return result(false);
}

function axpyNeg(y: Float64Array, yo: number, x: Float64Array, xo: number, len: number, a: number): void {
  for (let k = 0; k < len; k++) y[yo + k] -= a * x[xo + k];
}

/** y[yo + k] −= Σ_{u<8} L[lb+u] · P[u·W + po + k], k < len. */
function sweep8(y: Float64Array, yo: number, P: Float64Array, po: number, len: number, W: number, L: Float64Array, lb: number): void {
  const l0 = L[lb];
  const l1 = L[lb + 1];
  const l2 = L[lb + 2];
  const l3 = L[lb + 3];
  const l4 = L[lb + 4];
  const l5 = L[lb + 5];
  const l6 = L[lb + 6];
  const l7 = L[lb + 7];
  const o0 = po;
  const o1 = W + po;
  const o2 = 2 * W + po;
  const o3 = 3 * W + po;
  const o4 = 4 * W + po;
  const o5 = 5 * W + po;
  const o6 = 6 * W + po;
  const o7 = 7 * W + po;
  for (let k = 0; k < len; k++) {
    y[yo + k] -= l0 * P[o0 + k] + l1 * P[o1 + k] + l2 * P[o2 + k] + l3 * P[o3 + k] + l4 * P[o4 + k] + l5 * P[o5 + k] + l6 * P[o6 + k] + l7 * P[o7 + k];
  }
}
