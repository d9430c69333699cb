// rank K(δz) of a convolution: QRCP of every stride residue-class block of K_c (docs/algorithm.md §4.2 effect 2).
import type { ConvGeometry } from '../../numerics/convGeometry';
import type { DenseMatrix } from '../../numerics/dense';
import { denseOperator } from '../../numerics/linearOperator';
import { estimateNorm2 } from '../../numerics/normEstimate';
import { gradientClassBlockTransposed } from '../../numerics/convResidueClasses';
import { qrcp, type QrcpResult } from '../../numerics/qr';
import { NORM_ITERATIONS, NORM_REL_TOL, QRCP_CHARGE, formatCount, qrcpFlops, type Budget } from './budget';
import type { ResidueClass, Structure } from './convStructure';
import type { LayerRankTolerance } from './types';

/** QRCP factor of one residue-class block of K_c (transposed: pixels × taps·filters). */
export interface KClassFactor {
  cls: ResidueClass;
  /** Numerical rank at the K tolerance. */
  rank: number;
  /** |R_kk| of the accepted steps (unscaled units), for counting at other thresholds. */
  diag: Float64Array;
  /** Whether the QRCP decision had a clear gap (see qrcpDecision). */
  clear: boolean;
  factor: QrcpResult | null;
}

/**
 * Build and factor every residue-class block of K_c for every group (unscaled). σ_K is the largest block norm
 * (K is block-diagonal); the rank threshold is absK·σ_K. Null when over budget.
 */
export function factorK(
  gg: ConvGeometry,
  G: number,
  s: Structure,
  dzg: (grp: number) => Float64Array,
  tol: LayerRankTolerance,
  budget: Budget,
  notes: string[],
): KClassFactor[][] | null {
  let flops = 0;
  let bytes = 0;
  for (const cl of s.classes) {
    const rows = gg.outChannels * cl.taps.length;
    flops += G * (QRCP_CHARGE * qrcpFlops(cl.pixels.length, rows) + 4 * NORM_ITERATIONS * cl.pixels.length * rows);
    bytes += G * 8 * cl.pixels.length * rows;
  }
  if (!budget.fits(flops, bytes)) {
    notes.push(`rank K over budget (~${formatCount(flops)} flops, ${formatCount(bytes)} bytes): lattice bound used`);
    return null;
  }
  const blocks: (DenseMatrix | null)[][] = [];
  let sigma = 0;
  for (let grp = 0; grp < G; grp++) {
    const dz = dzg(grp);
    const list: (DenseMatrix | null)[] = [];
    for (const cl of s.classes) {
      if (cl.pixels.length === 0 || cl.taps.length === 0) {
        list.push(null);
        continue;
      }
      // Bᵀ: pixels × (f, tap)
      const Bt = gradientClassBlockTransposed(gg, cl, dz, s.rows, s.cols);
      sigma = Math.max(sigma, estimateNorm2(denseOperator(Bt), { maxIter: NORM_ITERATIONS, relTol: NORM_REL_TOL }));
      list.push(Bt);
    }
    blocks.push(list);
  }
  tol.sigmaK = sigma;
  const out: KClassFactor[][] = [];
  for (let grp = 0; grp < G; grp++) {
    out.push(
      s.classes.map((cl, k) => {
        const Bt = blocks[grp][k];
        if (!Bt || sigma === 0) return { cls: cl, rank: 0, diag: new Float64Array(0), clear: true, factor: null };
        const t = tol.absK * sigma;
        const f = qrcp(Bt, { tol: t, inPlace: true });
        const clear = (f.rank === 0 || f.diag[f.rank - 1] >= 100 * t) && (f.diag.length <= f.rank || f.diag[f.rank] <= t / 100);
        return { cls: cl, rank: f.rank, diag: f.diag.subarray(0, f.rank), clear, factor: f };
      }),
    );
  }
  budget.charge(flops);
  return out;
}
