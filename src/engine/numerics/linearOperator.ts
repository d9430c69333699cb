// Matrices given only by their action (matrix-free): the form LSQR and the norm estimate work on.
import { matTVec, matVec, type DenseMatrix } from './dense';
import { csrMatTVec, csrMatVec, type Csr } from './sparse';

/** A matrix given only by its action: y = A x (apply) and x = Aᵀ y (applyTranspose); outputs are overwritten. */
export interface LinearOperator {
  rows: number;
  cols: number;
  apply(x: Float64Array, out: Float64Array): void;
  applyTranspose(y: Float64Array, out: Float64Array): void;
}

export function denseOperator(A: DenseMatrix): LinearOperator {
  return {
    rows: A.rows,
    cols: A.cols,
    apply: (x, out) => void matVec(A, x, out),
    applyTranspose: (y, out) => void matTVec(A, y, out),
  };
}

export function csrOperator(A: Csr): LinearOperator {
  return {
    rows: A.rows,
    cols: A.cols,
    apply: (x, out) => void csrMatVec(A, x, out),
    applyTranspose: (y, out) => void csrMatTVec(A, y, out),
  };
}

/** [s0·A; s1·B] for two operators with the same column count. */
export function stackOperators(A: LinearOperator, B: LinearOperator, s0 = 1, s1 = 1): LinearOperator {
  if (A.cols !== B.cols) throw new RangeError('stackOperators: column counts differ');
  const tmp = new Float64Array(A.cols);
  return {
    rows: A.rows + B.rows,
    cols: A.cols,
    apply(x, out) {
      A.apply(x, out.subarray(0, A.rows));
      B.apply(x, out.subarray(A.rows));
      if (s0 !== 1) for (let i = 0; i < A.rows; i++) out[i] *= s0;
      if (s1 !== 1) for (let i = A.rows; i < out.length; i++) out[i] *= s1;
    },
    applyTranspose(y, out) {
      A.applyTranspose(y.subarray(0, A.rows), out);
      B.applyTranspose(y.subarray(A.rows), tmp);
      for (let j = 0; j < out.length; j++) out[j] = s0 * out[j] + s1 * tmp[j];
    },
  };
}
