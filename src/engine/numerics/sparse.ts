// Sparse matrices in compressed sparse row form (CSR): construction, products, selection and stacking.
import { zeros, type DenseMatrix } from './dense';

/** A sparse matrix in compressed sparse row form (column indices need not be sorted). */
export interface Csr {
  rows: number;
  cols: number;
  /** rows + 1 offsets into colIdx/values. */
  rowPtr: Int32Array;
  colIdx: Int32Array;
  values: Float64Array;
}

/** Build a CSR matrix from COO triplets (duplicates are summed). */
export function csrFromCoo(rows: number, cols: number, ri: ArrayLike<number>, ci: ArrayLike<number>, v: ArrayLike<number>): Csr {
  const nnz = v.length;
  const count = new Int32Array(rows + 1);
  for (let k = 0; k < nnz; k++) count[ri[k] + 1]++;
  for (let i = 0; i < rows; i++) count[i + 1] += count[i];
  const rowPtr = count.slice();
  const fill = count.slice(0, rows);
  const colIdx = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  for (let k = 0; k < nnz; k++) {
    const p = fill[ri[k]]++;
    colIdx[p] = ci[k];
    values[p] = v[k];
  }
  return sumDuplicates({ rows, cols, rowPtr, colIdx, values });
}

function sumDuplicates(A: Csr): Csr {
  const { rows, cols, rowPtr, colIdx, values } = A;
  const marker = new Int32Array(cols).fill(-1);
  const newPtr = new Int32Array(rows + 1);
  let w = 0;
  for (let i = 0; i < rows; i++) {
    const start = w;
    for (let p = rowPtr[i]; p < rowPtr[i + 1]; p++) {
      const j = colIdx[p];
      if (marker[j] >= start) {
        values[marker[j]] += values[p];
      } else {
        marker[j] = w;
        colIdx[w] = j;
        values[w] = values[p];
        w++;
      }
    }
    newPtr[i + 1] = w;
  }
  return { rows, cols, rowPtr: newPtr, colIdx: colIdx.slice(0, w), values: values.slice(0, w) };
}

export function csrNnz(A: Csr): number {
  return A.rowPtr[A.rows];
}

/** y = A x. */
export function csrMatVec(A: Csr, x: Float64Array, out: Float64Array = new Float64Array(A.rows)): Float64Array {
  const { rowPtr, colIdx, values } = A;
  for (let i = 0; i < A.rows; i++) {
    let s = 0;
    for (let p = rowPtr[i]; p < rowPtr[i + 1]; p++) s += values[p] * x[colIdx[p]];
    out[i] = s;
  }
  return out;
}

/** x = Aᵀ y. */
export function csrMatTVec(A: Csr, y: Float64Array, out: Float64Array = new Float64Array(A.cols)): Float64Array {
  const { rowPtr, colIdx, values } = A;
  out.fill(0);
  for (let i = 0; i < A.rows; i++) {
    const yi = y[i];
    if (yi === 0) continue;
    for (let p = rowPtr[i]; p < rowPtr[i + 1]; p++) out[colIdx[p]] += values[p] * yi;
  }
  return out;
}

/** Aᵀ as CSR (column indices of the result are sorted). */
export function csrTranspose(A: Csr): Csr {
  const { rows, cols, rowPtr, colIdx, values } = A;
  const nnz = rowPtr[rows];
  const ptr = new Int32Array(cols + 1);
  for (let p = 0; p < nnz; p++) ptr[colIdx[p] + 1]++;
  for (let j = 0; j < cols; j++) ptr[j + 1] += ptr[j];
  const fill = ptr.slice(0, cols);
  const ci = new Int32Array(nnz);
  const v = new Float64Array(nnz);
  for (let i = 0; i < rows; i++) {
    for (let p = rowPtr[i]; p < rowPtr[i + 1]; p++) {
      const q = fill[colIdx[p]]++;
      ci[q] = i;
      v[q] = values[p];
    }
  }
  return { rows: cols, cols: rows, rowPtr: ptr, colIdx: ci, values: v };
}

export function csrToDense(A: Csr): DenseMatrix {
  const D = zeros(A.rows, A.cols);
  for (let i = 0; i < A.rows; i++) {
    for (let p = A.rowPtr[i]; p < A.rowPtr[i + 1]; p++) D.data[i * A.cols + A.colIdx[p]] += A.values[p];
  }
  return D;
}

/** Keep only the listed columns (in the given order); `keep[j]` = new index or −1. */
export function csrSelectColumns(A: Csr, newIndex: Int32Array, newCols: number): Csr {
  const ptr = new Int32Array(A.rows + 1);
  let w = 0;
  const ci = new Int32Array(csrNnz(A));
  const v = new Float64Array(csrNnz(A));
  for (let i = 0; i < A.rows; i++) {
    for (let p = A.rowPtr[i]; p < A.rowPtr[i + 1]; p++) {
      const j = newIndex[A.colIdx[p]];
      if (j < 0) continue;
      ci[w] = j;
      v[w++] = A.values[p];
    }
    ptr[i + 1] = w;
  }
  return { rows: A.rows, cols: newCols, rowPtr: ptr, colIdx: ci.slice(0, w), values: v.slice(0, w) };
}

/** Stack two CSR matrices with the same column count: [A; B]. */
export function csrVStack(A: Csr, B: Csr): Csr {
  if (A.cols !== B.cols) throw new RangeError('csrVStack: column counts differ');
  const na = csrNnz(A);
  const nb = csrNnz(B);
  const ptr = new Int32Array(A.rows + B.rows + 1);
  ptr.set(A.rowPtr, 0);
  for (let i = 1; i <= B.rows; i++) ptr[A.rows + i] = na + B.rowPtr[i];
  const ci = new Int32Array(na + nb);
  ci.set(A.colIdx.subarray(0, na), 0);
  ci.set(B.colIdx.subarray(0, nb), na);
  const v = new Float64Array(na + nb);
  v.set(A.values.subarray(0, na), 0);
  v.set(B.values.subarray(0, nb), na);
  return { rows: A.rows + B.rows, cols: A.cols, rowPtr: ptr, colIdx: ci, values: v };
}

/** Multiply row blocks by scalars in place: rows [0, split) by s0, the rest by s1. */
/**
 * Scales every row to a largest entry of 1 (in place; zero rows stay zero). Row equilibration leaves the rank
 * unchanged and keeps one extreme weight from shrinking every other row below a rank tolerance.
 */
export function csrEquilibrateRows(A: Csr): Csr {
  for (let i = 0; i < A.rows; i++) {
    let max = 0;
    for (let p = A.rowPtr[i]; p < A.rowPtr[i + 1]; p++) max = Math.max(max, Math.abs(A.values[p]));
    if (max === 0 || !Number.isFinite(max)) continue;
    for (let p = A.rowPtr[i]; p < A.rowPtr[i + 1]; p++) A.values[p] /= max;
  }
  return A;
}

export function csrScaleRows(A: Csr, split: number, s0: number, s1: number): Csr {
  for (let i = 0; i < A.rows; i++) {
    const s = i < split ? s0 : s1;
    for (let p = A.rowPtr[i]; p < A.rowPtr[i + 1]; p++) A.values[p] *= s;
  }
  return A;
}
