// One rank decision and whether it was clear-cut.
import { transpose, type DenseMatrix } from '../../numerics/dense';
import { qrcp } from '../../numerics/qr';

/** Outcome of one rank decision: the rank (null = over budget), how it was obtained, and whether it was clear-cut. */
export interface RankDecision {
  rank: number | null;
  how: 'wide' | 'tall' | 'qrcp' | 'elimination' | 'none';
  /** False when kept and dropped pivots were not well separated from the threshold (ill-conditioned). */
  clear: boolean;
}

/** Rank by QRCP (tall orientation) with a clear-gap verdict: last kept |R_kk| ≥ 100·tol and first dropped ≤ tol/100. */
export function qrcpDecision(A: DenseMatrix, tol: number): { rank: number; clear: boolean } {
  const B = A.rows < A.cols ? transpose(A) : A;
  const f = qrcp(B, { tol, inPlace: B !== A });
  const keptOk = f.rank === 0 || f.diag[f.rank - 1] >= 100 * tol;
  const droppedOk = f.diag.length <= f.rank || f.diag[f.rank] <= tol / 100;
  return { rank: f.rank, clear: keptOk && droppedOk };
}
