// Dense row-major Float64 matrices and the basic products on them (docs/algorithm.md §4.2, §5.4, §7.3 and §7.17).
// JS does not vectorise: the inner loops are contiguous axpy/dot loops over typed arrays, with no allocation inside
// loops.

/** Machine epsilon of float64 (2⁻⁵²). */
export const EPS = Number.EPSILON;

/** A dense row-major matrix: entry (i, j) is data[i·cols + j]. */
export interface DenseMatrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

export function zeros(rows: number, cols: number): DenseMatrix {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

export function fromRows(rows: ArrayLike<number>[]): DenseMatrix {
  const m = rows.length;
  const n = m ? rows[0].length : 0;
  const A = zeros(m, n);
  for (let i = 0; i < m; i++) {
    if (rows[i].length !== n) throw new RangeError('fromRows: ragged rows');
    for (let j = 0; j < n; j++) A.data[i * n + j] = rows[i][j];
  }
  return A;
}

export function identity(n: number): DenseMatrix {
  const A = zeros(n, n);
  for (let i = 0; i < n; i++) A.data[i * n + i] = 1;
  return A;
}

export function cloneMatrix(A: DenseMatrix): DenseMatrix {
  return { rows: A.rows, cols: A.cols, data: A.data.slice() };
}

/** Aᵀ (cache-blocked copy). */
export function transpose(A: DenseMatrix): DenseMatrix {
  const { rows: m, cols: n, data: a } = A;
  const T = new Float64Array(m * n);
  const bs = 32;
  for (let i0 = 0; i0 < m; i0 += bs) {
    const i1 = Math.min(m, i0 + bs);
    for (let j0 = 0; j0 < n; j0 += bs) {
      const j1 = Math.min(n, j0 + bs);
      for (let i = i0; i < i1; i++) {
        const ri = i * n;
        for (let j = j0; j < j1; j++) T[j * m + i] = a[ri + j];
      }
    }
  }
  return { rows: n, cols: m, data: T };
}

/** y = A x. */
export function matVec(A: DenseMatrix, x: Float64Array, out: Float64Array = new Float64Array(A.rows)): Float64Array {
  const { rows: m, cols: n, data: a } = A;
  for (let i = 0; i < m; i++) {
    let s = 0;
    const ri = i * n;
    for (let j = 0; j < n; j++) s += a[ri + j] * x[j];
    out[i] = s;
  }
  return out;
}

/** x = Aᵀ y. */
export function matTVec(A: DenseMatrix, y: Float64Array, out: Float64Array = new Float64Array(A.cols)): Float64Array {
  const { rows: m, cols: n, data: a } = A;
  out.fill(0);
  for (let i = 0; i < m; i++) {
    const yi = y[i];
    if (yi === 0) continue;
    const ri = i * n;
    for (let j = 0; j < n; j++) out[j] += a[ri + j] * yi;
  }
  return out;
}

/** C = A B (i-k-j order: contiguous inner loop). */
export function matMul(A: DenseMatrix, B: DenseMatrix): DenseMatrix {
  if (A.cols !== B.rows) throw new RangeError(`matMul: ${A.rows}×${A.cols} · ${B.rows}×${B.cols}`);
  const m = A.rows;
  const kk = A.cols;
  const n = B.cols;
  const C = new Float64Array(m * n);
  const a = A.data;
  const b = B.data;
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let k = 0; k < kk; k++) {
      const aik = a[i * kk + k];
      if (aik === 0) continue;
      const bk = k * n;
      for (let j = 0; j < n; j++) C[ci + j] += aik * b[bk + j];
    }
  }
  return { rows: m, cols: n, data: C };
}

export function dot(x: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

/** Euclidean norm with scaling (no overflow/underflow for extreme entries). */
export function norm2(x: Float64Array): number {
  let scale = 0;
  let ssq = 1;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v === 0) continue;
    const av = Math.abs(v);
    if (scale < av) {
      ssq = 1 + ssq * (scale / av) * (scale / av);
      scale = av;
    } else {
      ssq += (av / scale) * (av / scale);
    }
  }
  return scale * Math.sqrt(ssq);
}
