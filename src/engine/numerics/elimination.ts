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

/** Row indices ordered by first column (counting sort), empty rows left out; `span` is the widest row extent. */
function rowsByFirstColumn(src: RowSource): { order: Int32Array; span: number } {
  const { rows: m, cols: n, lo, hi } = src;
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
  const fill = bucket.slice(0, n);
  for (let r = 0; r < m; r++) if (hi[r] >= lo[r]) order[fill[lo[r]]++] = r;
  return { order, span };
}

/**
 * The rows taking part in the elimination. Each lives in a slot: W entries of a circular buffer (column k at
 * k mod W), B multipliers (one per pivot of the current block), its last possibly non-zero column and its value in
 * the column being pivoted. Slots are recycled; the store doubles when full.
 */
class ActiveRows {
  buf: Float64Array;
  /** Multipliers of the current block's pivots, B per slot. */
  L: Float64Array;
  slotHi: Int32Array;
  colVal: Float64Array;
  /** Slots of the active rows, count entries. */
  readonly active: Int32Array;
  count = 0;
  private capacity = 16;
  private readonly freeSlots: number[] = [];

  constructor(
    readonly W: number,
    readonly B: number,
    maxRows: number,
  ) {
    this.buf = new Float64Array(this.capacity * W);
    this.L = new Float64Array(this.capacity * B);
    this.slotHi = new Int32Array(this.capacity);
    this.colVal = new Float64Array(this.capacity);
    for (let s = this.capacity - 1; s >= 0; s--) this.freeSlots.push(s);
    this.active = new Int32Array(Math.max(1, maxRows));
  }

  /** Scatters row r of `src` into a fresh slot and makes it active. */
  admit(src: RowSource, r: number): void {
    if (this.freeSlots.length === 0) this.grow();
    const s = this.freeSlots.pop() as number;
    const { W, B } = this;
    const base = s * W;
    this.buf.fill(0, base, base + W);
    src.scatter(r, this.buf, base, W);
    this.slotHi[s] = src.hi[r];
    this.L.fill(0, s * B, s * B + B);
    this.active[this.count++] = s;
  }

  /** Takes the q-th active row out of the active list (the last one takes its place); returns its slot. */
  remove(q: number): number {
    const s = this.active[q];
    this.active[q] = this.active[--this.count];
    return s;
  }

  /** Frees a slot for the next admitted row. */
  release(s: number): void {
    this.freeSlots.push(s);
  }

  private grow(): void {
    const cap = this.capacity;
    const ncap = cap * 2;
    const nb = new Float64Array(ncap * this.W);
    nb.set(this.buf);
    this.buf = nb;
    const nl = new Float64Array(ncap * this.B);
    nl.set(this.L);
    this.L = nl;
    const nh = new Int32Array(ncap);
    nh.set(this.slotHi);
    this.slotHi = nh;
    const nc = new Float64Array(ncap);
    nc.set(this.colVal);
    this.colVal = nc;
    for (let s = ncap - 1; s >= cap; s--) this.freeSlots.push(s);
    this.capacity = ncap;
  }
}

/**
 * Blocked elimination, columns left to right. A block takes up to B pivots, each in one column: the column of the
 * active rows is updated by the block's earlier pivots, its largest entry becomes the pivot (or the column is
 * dependent when that entry is ≤ the threshold), and the pivot row is formed in P. At the end of the block one sweep
 * applies all its pivots to every active row (sweep8 when there are 8).
 */
class BlockedElimination {
  private readonly n: number;
  private readonly tol: number;
  private readonly noiseFactor: number;
  private readonly maxFlops: number;
  /** Pivots per block. */
  private readonly B: number;
  /** A block spans at most this many columns (skipped columns included). */
  private readonly maxCols: number;
  /** Width of a row's circular buffer. */
  private readonly W: number;
  private readonly order: Int32Array;
  private readonly rows: ActiveRows;
  /** The block's pivot rows over its window (B × W) and the last column of each. */
  private readonly P: Float64Array;
  private readonly Phi: Int32Array;
  /** Next row of `order` to admit. */
  private next = 0;
  private thr: number;
  private maxU = 0;
  private maxRejected = 0;
  private rank = 0;
  private flops = 0;
  private minPivot = Infinity;
  private maxPivot = 0;
  private peak = 0;

  constructor(
    private readonly src: RowSource,
    opts: EliminationOptions,
  ) {
    this.n = src.cols;
    this.tol = opts.tol;
    this.thr = opts.tol;
    this.noiseFactor = opts.noiseFactor ?? 32;
    this.maxFlops = opts.maxFlops ?? Infinity;
    this.B = Math.max(1, Math.min(8, opts.blockSize ?? 8));
    const { order, span } = rowsByFirstColumn(src);
    this.order = order;
    // Every live entry lies in [blockStart, blockStart + W): a row admitted at column j ≤ blockStart + maxCols − 1
    // ends by j + span − 1, and fill never extends a row beyond the end of a row admitted earlier.
    this.maxCols = 4 * this.B;
    this.W = span + this.maxCols;
    this.rows = new ActiveRows(this.W, this.B, order.length);
    this.P = new Float64Array(this.B * this.W);
    this.Phi = new Int32Array(this.B);
  }

  run(): EliminationResult {
    const { n, order, rows } = this;
    const lo = this.src.lo;
    let j = 0;
    while (j < n) {
      if (rows.count === 0) {
        if (this.next >= order.length) break;
        if (lo[order[this.next]] > j) j = lo[order[this.next]];
      }
      const blockStart = j;
      let t = 0;
      while (t < this.B && j < n && j - blockStart < this.maxCols) {
        this.admitRowsStartingBy(j);
        if (rows.count === 0) break;
        if (this.pivotColumn(j, blockStart, t)) t++;
        j++;
      }
      this.sweepBlock(blockStart, j, t);
      if (this.flops > this.maxFlops) return this.result(true);
    }
    return this.result(false);
  }

  /** Admits the rows whose first column is ≤ j. */
  private admitRowsStartingBy(j: number): void {
    const { order, rows } = this;
    const lo = this.src.lo;
    while (this.next < order.length && lo[order[this.next]] <= j) rows.admit(this.src, order[this.next++]);
    if (rows.count > this.peak) this.peak = rows.count;
  }

  /**
   * Column j, the block's (t+1)-th candidate: its entries in the active rows updated by the block's t earlier
   * pivots. Returns false when the column is dependent (its largest entry ≤ the threshold; the small entries are
   * dropped by the sweep), else takes the pivot and returns true.
   */
  private pivotColumn(j: number, blockStart: number, t: number): boolean {
    const { rows, W, B, P } = this;
    const { buf, L, colVal, active } = rows;
    const cj = j % W;
    const pj = j - blockStart;
    let best = 0;
    let bq = -1;
    for (let q = 0; q < rows.count; q++) {
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
    this.flops += rows.count * (2 * t + 1);
    if (best <= this.thr) {
      if (best > this.maxRejected) this.maxRejected = best;
      return false;
    }
    const ps = rows.remove(bq);
    if (best < this.minPivot) this.minPivot = best;
    if (best > this.maxPivot) this.maxPivot = best;
    this.formPivotRow(ps, j, blockStart, t, best);
    this.recordMultipliers(t, colVal[ps]);
    rows.release(ps);
    this.rank++;
    this.thr = Math.max(this.tol, this.noiseFactor * this.rank * EPS * this.maxU);
    return true;
  }

  /**
   * The pivot row (slot ps) over (j, hiP] into row t of P, updated by the block's earlier pivots; zero elsewhere in
   * the window. Tracks max|U| for the rounding level.
   */
  private formPivotRow(ps: number, j: number, blockStart: number, t: number, best: number): void {
    const { rows, W, B, P, Phi } = this;
    const { buf, L } = rows;
    let hiP = rows.slotHi[ps];
    const lp = ps * B;
    for (let u = 0; u < t; u++) if (L[lp + u] !== 0 && Phi[u] > hiP) hiP = Phi[u];
    const pt = t * W;
    P.fill(0, pt, pt + W);
    const pbase = ps * W;
    for (let k = j + 1; k <= hiP; k++) P[pt + k - blockStart] = buf[pbase + (k % W)];
    for (let u = 0; u < t; u++) {
      const l = L[lp + u];
      if (l === 0) continue;
      const pu = u * W;
      const kEnd = Math.min(hiP, Phi[u]);
      for (let k = j + 1; k <= kEnd; k++) P[pt + k - blockStart] -= l * P[pu + k - blockStart];
      this.flops += 2 * Math.max(0, kEnd - j);
    }
    let mu = best;
    for (let k = j + 1; k <= hiP; k++) {
      const av = Math.abs(P[pt + k - blockStart]);
      if (av > mu) mu = av;
    }
    if (mu > this.maxU) this.maxU = mu;
    Phi[t] = hiP;
  }

  /** Multiplier of pivot t for every remaining active row (entries ≤ the threshold are dropped). */
  private recordMultipliers(t: number, pivot: number): void {
    const { rows, B, thr } = this;
    const { L, colVal, active } = rows;
    for (let q = 0; q < rows.count; q++) {
      const s = active[q];
      const v = colVal[s];
      L[s * B + t] = Math.abs(v) > thr ? v / pivot : 0;
    }
  }

  /**
   * Applies the block's t pivots to columns [j, …) of every active row, clears the consumed columns
   * [blockStart, j), and retires the rows with nothing left.
   */
  private sweepBlock(blockStart: number, j: number, t: number): void {
    const { rows, B } = this;
    let q = 0;
    while (q < rows.count) {
      const s = rows.active[q];
      this.applyPivots(s, j, blockStart, t);
      this.clearConsumedColumns(s * this.W, blockStart, j);
      rows.L.fill(0, s * B, s * B + B);
      if (rows.slotHi[s] < j) {
        rows.release(rows.remove(q)); // nothing left in this row
        continue;
      }
      q++;
    }
  }

  /** Row (slot s) −= Σ_u L[s, u] · P[u] over columns [j, …), as far as the pivots it uses reach. */
  private applyPivots(s: number, j: number, blockStart: number, t: number): void {
    const { rows, W, B, P, Phi } = this;
    const { buf, L } = rows;
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
    if (nz === 0 || hiMax < j) return;
    const len = hiMax - j + 1;
    const start = j % W;
    const first = Math.min(len, W - start);
    this.flops += 2 * nz * len;
    if (t === 8 && nz === 8) {
      sweep8(buf, base + start, P, j - blockStart, first, W, L, lb);
      if (first < len) sweep8(buf, base, P, j - blockStart + first, len - first, W, L, lb);
    } else {
      for (let u = 0; u < t; u++) {
        const l = L[lb + u];
        if (l === 0) continue;
        const kEnd = Math.min(hiMax, Phi[u]);
        if (kEnd < j) continue;
        const lenU = kEnd - j + 1;
        const firstU = Math.min(lenU, W - start);
        axpyNeg(buf, base + start, P, u * W + j - blockStart, firstU, l);
        if (firstU < lenU) axpyNeg(buf, base, P, u * W + j - blockStart + firstU, lenU - firstU, l);
      }
    }
    if (hiMax > rows.slotHi[s]) rows.slotHi[s] = hiMax;
  }

  /** Consumed columns [blockStart, j) of a row become exact zeros (eliminated, or dropped as ≤ tol). */
  private clearConsumedColumns(base: number, blockStart: number, j: number): void {
    const W = this.W;
    const buf = this.rows.buf;
    const len = j - blockStart;
    const start = blockStart % W;
    const first = Math.min(len, W - start);
    buf.fill(0, base + start, base + start + first);
    if (first < len) buf.fill(0, base, base + len - first);
  }

  private result(aborted: boolean): EliminationResult {
    const { rank, minPivot, maxRejected, thr } = this;
    return {
      rank,
      flops: this.flops,
      aborted,
      minPivot: minPivot === Infinity ? 0 : minPivot,
      maxPivot: this.maxPivot,
      maxRejected,
      finalTol: thr,
      clearGap: (rank === 0 || minPivot >= 1e3 * thr) && maxRejected <= thr / 8,
      peakActiveRows: this.peak,
      window: this.W,
    };
  }
}

function eliminate(src: RowSource, opts: EliminationOptions): EliminationResult {
  return new BlockedElimination(src, opts).run();
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
