// Per-layer counts and ranks of the layer system U x = V, U = [K(δz); W_op] (algorithm.md §4.1, §4.2, §4.5, §8).
//
// Numerical path ('structured'), per group (U, K, W_op are block-diagonal over groups):
//  1. Uncovered pixels are zero columns of K and W_op: they are simply never touched (n_cov = covered entries).
//  2. rank K: K = I_{C_in/g} ⊗ K_c and K_c is block-diagonal over the stride residue classes (ρ, γ) of the pixels
//     (a tap (a, b') only reaches pixels with i ≡ a d_h − p_t mod s_h, j ≡ b' d_w − p_l mod s_w). Each class block
//     (C_out/g · n_a(ρ) n_b(γ)) × (covered pixels of the class) is factored by QRCP (tiny).
//  3. rank W_op: blocked Gaussian elimination on the sparse W_op in pixel-major (HWC) order, where its rows are
//     banded; the front holds only the rows overlapping the current pixel.
//  4. rank U = rank K + rank(W_op N_K), N_K = blockdiag over channels and classes of orthonormal null bases of the
//     class blocks; W_op N_K is formed by applying the forward operator to the null vectors, then eliminated
//     (dense). Shortcuts: rank U = n_cov as soon as rank K or rank W_op reaches n_cov.
// K and W_op are scaled to unit spectral norm before stacking (rank U is invariant under block scaling in exact
// arithmetic; this makes the relative tolerance independent of |δz| versus |W|). Tolerances are relative:
// σ_max · max(m, n) · ε₆₄ of each matrix (K: n_w × n_x, W_op: n_z × n_x, U: (n_w + n_z) × n_x).
//
// Rank decisions: the class blocks of K use QRCP. The large eliminations (W_op, W_op N_K) use blocked Gaussian
// elimination, which is ~3× faster than Householder in V8 but not rank-revealing by construction; every
// elimination reports whether kept and dropped pivots were clearly separated from the threshold (clearGap). If not,
// the other orientation and then dense QRCP are tried within the budget. A decision that stays unclear means the
// operator is numerically ill-conditioned (singular values decaying through the tolerance, typical of
// single-channel/depthwise 2-D convolutions): the result is flagged `fragile`.
//
// Dropped forward rows (ReLU, R-CONV route, §5.5): `activeOutputs` marks the output units whose z is known. Only
// their forward rows enter W_op and U in every path (ForwardRows below is the one place rows are selected); δz
// must vanish on the other units (δz = δx ⊙ 1[x > 0]), so all gradient rows are kept. The counts follow: n_z is
// the number of kept rows, n_cov counts the input entries inside the window of at least one kept unit, and the
// cross-dependency estimate D is restricted to the identities that only involve kept rows (crossDependency).
//
// A budget (flops and bytes) is checked before every stage, for all groups at once; a quantity that does not fit
// falls back to its structural bound (lattice bound for K, min(n_z, n_cov) for W_op, the empirical closed form for
// U) and the result says so (rankSource, method 'bound', notes). Small layers are computed by explicit dense QRCP
// of U ('dense', the reference path). Defaults: 1.2e10 flops (QRCP flops charged ×3), 256 MiB per work array —
// a CIFAR-size layer (n_x ≲ 3500) takes ≲ 3 s; ImageNet-size layers take the bound path within a fraction of a second
// (rank K stays numerical when its class blocks fit).

import { axisMaps, convGeometry, groupGeometry, type AxisMap, type ConvGeometry } from '../../numerics/convGeometry';
import { ConvOperator, FullyConnectedOperator, type ActivationLayout } from '../../numerics/convOperators';
import { EPS, transpose, type DenseMatrix } from '../../numerics/dense';
import { eliminationRank, estimateSparseEliminationFlops, sparseEliminationRank, type EliminationResult } from '../../numerics/elimination';
import { denseOperator, stackOperators, type LinearOperator } from '../../numerics/linearOperator';
import { estimateNorm2 } from '../../numerics/normEstimate';
import { formQ, qrcp, type QrcpResult } from '../../numerics/qr';
import { csrSelectColumns, csrToDense, csrVStack, csrScaleRows, type Csr } from '../../numerics/sparse';
import { createRng } from '../../numerics/random';

/** How the rank of U (hence the deficiency) was obtained. */
export type RankMethod = 'dense' | 'structured' | 'bound';

/** Where one reported rank comes from: computed numerically, a structural bound/estimate, or exact by structure. */
export type RankSource = 'numeric' | 'bound' | 'exact';

export interface LayerRankBounds {
  /** §4.2 effect 2: stride-lattice upper bound on rank K, C_in·Σ_{ρ,γ} min(C_out/g·n_a(ρ)n_b(γ), R_ρ Q_γ). */
  latticeRankK: number;
  /**
   * §4.2 effect 3: generic dim(row K ∩ row W_op), Σ_groups (C_out/g)² − (C_out/g − min(C_out/g, C_in/g·k_h k_w))·(C_out/g − min(C_out/g, H_o W_o))
   * with every row kept; with dropped rows only the identities among kept rows count (see crossDependency()).
   */
  crossDependency: number;
  /** Upper bound on rank W_op: Σ_groups min(kept rows, n_cov) of the group. */
  rankWUpper: number;
  /** Upper bound on rank U: Σ_groups min(n_cov/g, latticeRankK/g + rankWUpper/g). */
  rankUUpper: number;
  /** Empirical closed form (§4.2): Σ_groups min(n_cov, rK + rW − min(D, rK, rW)), using the reported rank K and rank W. */
  closedFormRankU: number;
  /** n_x − closedFormRankU. */
  closedFormDeficiency: number;
}

export interface LayerRankTolerance {
  /** max(m, n)·ε₆₄ for U (m = n_w + n_z, n = n_x): the relative factor of the rank test. */
  relative: number;
  /** σ_max estimate of K(δz) (0 when not computed). */
  sigmaK: number;
  /** σ_max estimate of W_op (0 when not computed). */
  sigmaW: number;
  /** σ_max estimate of Û = [K/σ_K; W_op/σ_W] (between 1 and √2). */
  sigmaU: number;
  /** Absolute thresholds on the scaled matrices: max(m,n)·ε·σ̂ for K̂, Ŵ and Û. */
  absK: number;
  absW: number;
  absU: number;
}

export interface LayerRankResult {
  /** Layer type. */
  kind: 'conv' | 'fullyConnected';
  /** n_x: unknowns (input entries). */
  nX: number;
  /** n_z: forward equations = kept forward rows (all output entries unless `activeOutputs` drops some). */
  nZ: number;
  /** Forward rows dropped by `activeOutputs` (inactive ReLU units, z unknown); nZ + nZDropped = output entries. */
  nZDropped: number;
  /** n_w: gradient equations (weight entries, bias excluded). */
  nW: number;
  /** Bias entries (C_out or m when the layer has a bias, else 0); they carry no information on x. */
  nBias: number;
  /** r_naive = n_x − n_w − n_z (§4.1): > 0 ⇒ certainly under-determined; ≤ 0 proves nothing. */
  naive: number;
  /**
   * Input entries no window touches (§4.2 effect 1), or only windows of dropped units: zero columns of K and the
   * kept W_op rows, unrecoverable from this layer.
   */
  uncoveredPixels: number;
  /** n_cov = n_x − uncoveredPixels. */
  nCovered: number;
  /** rank K(δz): independent gradient equations. */
  rankK: number;
  /** rank W_op: independent forward equations. */
  rankW: number;
  /** rank U = rank [K; W_op]: independent equations of the layer system. */
  rankU: number;
  /** d = n_x − rank U (0 ⇔ the layer's input is determined by its gradient and output). */
  deficiency: number;
  /** Source of each rank: numeric, structural bound/estimate, or exact by structure. */
  rankSource: { K: RankSource; W: RankSource; U: RankSource };
  /** Structural bounds and the closed-form estimate (always filled). */
  bounds: LayerRankBounds;
  /** How rank U was obtained: explicit dense QRCP of U, the structured decomposition, or bounds only. */
  method: RankMethod;
  /** Tolerances actually used. */
  tolerance: LayerRankTolerance;
  /**
   * True when some rank decision had no clear gap between kept and dropped pivots: the operator is numerically
   * ill-conditioned (e.g. single-channel/depthwise 2-D convolutions) and its numerical rank depends on the tolerance.
   */
  fragile: boolean;
  /** Approximate floating-point operations spent on norms and factorisations (QRCP charged ×3). */
  flops: number;
  /** Wall-clock seconds of the whole computation. */
  seconds: number;
  /** Budget fallbacks and other remarks, one line each. */
  notes: string[];
}

export interface LayerRankOptions {
  /** Kernel (OIHW for conv, [out, in] for fully connected), or a loader called only if a numerical path runs. Default: N(0,1) surrogate from `seed`. */
  weights?: Float64Array | (() => Float64Array | undefined);
  /** δz = ∂ℓ/∂z (output-shaped; must be 0 on units dropped by `activeOutputs`). Default: N(0,1) surrogate from `seed`, 0 on dropped units. */
  outputGradient?: Float64Array;
  /**
   * Output units whose forward row is kept (length n_z, NCHW; non-zero = kept). ReLU (R-CONV, §5.5): z is known
   * only where x_{i+1} > 0, and δz = 0 elsewhere. Default: every row kept.
   */
  activeOutputs?: Uint8Array;
  /** PRNG seed of the surrogates (default 1). */
  seed?: number;
  /** Whether the layer has a bias (only reported as nBias). Default false. */
  hasBias?: boolean;
  /** Flop budget for the whole layer (default 1.2e10 ≈ a few seconds in V8). */
  maxFlops?: number;
  /** Memory budget for any single dense/sparse work array (default 256 MiB). */
  maxDenseBytes?: number;
  /** 'auto' (default): dense QRCP of U for small layers, else structured; or force one path. */
  method?: 'auto' | RankMethod;
  /** In 'auto', use the dense path when its estimated cost is below this (default 2e8 flops). */
  denseThresholdFlops?: number;
}

export const DEFAULT_MAX_FLOPS = 1.2e10;
export const DEFAULT_MAX_DENSE_BYTES = 256 * 1024 * 1024;
const DEFAULT_DENSE_THRESHOLD = 2e8;
const NORM_ITERATIONS = 40;
const NORM_REL_TOL = 1e-3;

// ---------------------------------------------------------------------------------------------------------------
// Structure: residue classes of K_c and the structural bounds

/** One stride residue class (ρ, γ) of a single channel's gradient block K_c. */
interface ResidueClass {
  rho: number;
  gamma: number;
  /** Kernel taps in the class with a non-empty range. */
  taps: { a: number; b: number }[];
  /** Covered pixels (flat i·W + j) of the class, in increasing order. */
  pixels: Int32Array;
}

function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}

function residueClasses(g: ConvGeometry, rows: AxisMap, cols: AxisMap): ResidueClass[] {
  const [sh, sw] = g.strides;
  const [kh, kw] = g.kernel;
  const out: ResidueClass[] = [];
  for (let rho = 0; rho < sh; rho++) {
    for (let gamma = 0; gamma < sw; gamma++) {
      const taps: { a: number; b: number }[] = [];
      for (let a = 0; a < kh; a++) {
        if (rows.uHi[a] <= rows.uLo[a] || mod(a * g.dilations[0] - g.pads[0], sh) !== rho) continue;
        for (let b = 0; b < kw; b++) {
          if (cols.uHi[b] <= cols.uLo[b] || mod(b * g.dilations[1] - g.pads[1], sw) !== gamma) continue;
          taps.push({ a, b });
        }
      }
      const px: number[] = [];
      for (let i = rho; i < g.height; i += sh) {
        if (!rows.covered[i]) continue;
        for (let j = gamma; j < g.width; j += sw) if (cols.covered[j]) px.push(i * g.width + j);
      }
      out.push({ rho, gamma, taps, pixels: Int32Array.from(px) });
    }
  }
  return out;
}

interface Structure {
  rows: AxisMap;
  cols: AxisMap;
  /** Covered pixels per channel. */
  coveredPerChannel: number;
  classes: ResidueClass[];
  /** Per group: lattice bound on rank of the group's K and covered input entries (every row kept). */
  latticeK: number;
  nCov: number;
}

/** Per-group structure of a convolution (identical for every group). */
function structureOf(g: ConvGeometry): Structure {
  const gg = groupGeometry(g);
  const { rows, cols } = axisMaps(gg);
  const coveredPerChannel = rows.coveredCount * cols.coveredCount;
  const classes = residueClasses(gg, rows, cols);
  const F = gg.outChannels;
  let perChannel = 0;
  for (const cl of classes) {
    // n_a(ρ)·n_b(γ) = number of taps in the class
    perChannel += Math.min(F * cl.taps.length, cl.pixels.length);
  }
  const latticeK = gg.inChannels * perChannel;
  const nCov = gg.inChannels * coveredPerChannel;
  return { rows, cols, coveredPerChannel, classes, latticeK, nCov };
}

// ---------------------------------------------------------------------------------------------------------------
// Kept forward rows (ReLU, §5.5)

/**
 * The forward rows of W_op that enter U: all of them, or the units marked in `activeOutputs` (NCHW). Every
 * representation of the kept W_op is taken from here: CSR rows in either layout of ConvOperator.forwardCsr, dense
 * rows, gathered output vectors (W_op·N_K) and the matrix-free operator (norm estimates). A fully connected layer
 * is one group of `filters` outputs of size 1×1.
 */
class ForwardRows {
  /** Kept rows per group. */
  readonly perGroup: number[];
  /** Kept and dropped rows of the layer. */
  readonly kept: number;
  readonly dropped: number;
  private readonly groupSize: number;

  constructor(
    readonly groups: number,
    /** Output channels per group. */
    readonly filters: number,
    readonly outHeight: number,
    readonly outWidth: number,
    /** Null when every row is kept. */
    readonly mask: Uint8Array | null,
  ) {
    this.groupSize = filters * outHeight * outWidth;
    const n = groups * this.groupSize;
    if (mask && mask.length !== n) throw new RangeError(`activeOutputs has ${mask.length} entries, expected ${n}`);
    this.perGroup = [];
    for (let grp = 0; grp < groups; grp++) {
      let c = this.groupSize;
      if (mask) {
        c = 0;
        for (let i = grp * this.groupSize; i < (grp + 1) * this.groupSize; i++) if (mask[i]) c++;
      }
      this.perGroup.push(c);
    }
    this.kept = sumOf(this.perGroup);
    this.dropped = n - this.kept;
  }

  static conv(g: ConvGeometry, mask?: Uint8Array): ForwardRows {
    return new ForwardRows(g.groups, g.outPerGroup, g.outHeight, g.outWidth, mask ?? null);
  }

  static fullyConnected(outFeatures: number, mask?: Uint8Array): ForwardRows {
    return new ForwardRows(1, outFeatures, 1, 1, mask ?? null);
  }

  /** The group's slice of the mask (NCHW within the group), or null when the group keeps every row. */
  groupMask(grp: number): Uint8Array | null {
    if (!this.mask || this.perGroup[grp] === this.groupSize) return null;
    return this.mask.subarray(grp * this.groupSize, (grp + 1) * this.groupSize);
  }

  /** Kept rows of a group as row indices of the group's forwardCsr(·, layout), in increasing order; null = all. */
  indices(grp: number, layout: ActivationLayout): Int32Array | null {
    const m = this.groupMask(grp);
    if (!m) return null;
    const { filters: F, outHeight: Ho, outWidth: Wo } = this;
    const out = new Int32Array(this.perGroup[grp]);
    let k = 0;
    if (layout === 'nchw') {
      for (let i = 0; i < m.length; i++) if (m[i]) out[k++] = i;
    } else {
      // hwc row (u, v, f) = (u·W_o + v)·F + f
      for (let p = 0; p < Ho * Wo; p++) for (let f = 0; f < F; f++) if (m[f * Ho * Wo + p]) out[k++] = p * F + f;
    }
    return out;
  }

  /** The kept rows of A (a group's forward matrix with rows in `layout` order); A itself when all are kept. */
  csr(A: Csr, grp: number, layout: ActivationLayout): Csr {
    const idx = this.indices(grp, layout);
    if (!idx) return A;
    const rowPtr = new Int32Array(idx.length + 1);
    for (let k = 0; k < idx.length; k++) rowPtr[k + 1] = rowPtr[k] + A.rowPtr[idx[k] + 1] - A.rowPtr[idx[k]];
    const colIdx = new Int32Array(rowPtr[idx.length]);
    const values = new Float64Array(rowPtr[idx.length]);
    for (let k = 0; k < idx.length; k++) {
      colIdx.set(A.colIdx.subarray(A.rowPtr[idx[k]], A.rowPtr[idx[k] + 1]), rowPtr[k]);
      values.set(A.values.subarray(A.rowPtr[idx[k]], A.rowPtr[idx[k] + 1]), rowPtr[k]);
    }
    return { rows: idx.length, cols: A.cols, rowPtr, colIdx, values };
  }

  /** The kept rows of a dense group matrix (NCHW row order); A itself when all are kept. */
  dense(A: DenseMatrix, grp: number): DenseMatrix {
    const idx = this.indices(grp, 'nchw');
    if (!idx) return A;
    const B: DenseMatrix = { rows: idx.length, cols: A.cols, data: new Float64Array(idx.length * A.cols) };
    for (let k = 0; k < idx.length; k++) B.data.set(A.data.subarray(idx[k] * A.cols, (idx[k] + 1) * A.cols), k * A.cols);
    return B;
  }

  /** For a group: a function writing the kept entries of a group-sized output vector z to out[offset…]; null = all kept. */
  gather(grp: number): ((z: Float64Array, out: Float64Array, offset: number) => void) | null {
    const idx = this.indices(grp, 'nchw');
    if (!idx) return null;
    return (z, out, offset) => {
      for (let k = 0; k < idx.length; k++) out[offset + k] = z[idx[k]];
    };
  }

  /** diag(mask)·op for the whole layer: dropped rows read as zero rows (the kept rows' singular values). */
  operator(op: LinearOperator): LinearOperator {
    const m = this.mask;
    if (!m || this.dropped === 0) return op;
    const masked = new Float64Array(op.rows);
    return {
      rows: op.rows,
      cols: op.cols,
      apply(x, out) {
        op.apply(x, out);
        for (let i = 0; i < out.length; i++) if (!m[i]) out[i] = 0;
      },
      applyTranspose(y, out) {
        for (let i = 0; i < masked.length; i++) masked[i] = m[i] ? y[i] : 0;
        op.applyTranspose(masked, out);
      },
    };
  }

  /**
   * δz of the layer: `given` (it must vanish on dropped units: an inactive ReLU unit passes no gradient), or the
   * N(0,1) surrogate `make()` zeroed on dropped units.
   */
  outputGradient(given: Float64Array | undefined, make: () => Float64Array, who: string): Float64Array {
    const m = this.mask;
    if (given && m) {
      const i = m.findIndex((keep, k) => !keep && given[k] !== 0);
      if (i >= 0) throw new RangeError(`${who}: output gradient is non-zero at unit ${i}, whose forward row activeOutputs drops (δz must be 0 there)`);
    }
    if (given) return given;
    const dz = make();
    if (m) for (let i = 0; i < dz.length; i++) if (!m[i]) dz[i] = 0;
    return dz;
  }
}

/** Counts of one group that depend on the kept rows. */
interface GroupCounts {
  /** Kept forward rows. */
  nZ: number;
  /** Input entries inside the window of at least one kept unit (zero columns of U otherwise). */
  nCov: number;
  /** Cross-dependency estimate D (crossDependency). */
  D: number;
  /** min(nZ, nCov): upper bound on rank W_op. */
  wUpper: number;
}

function groupCounts(gg: ConvGeometry, s: Structure, fwd: ForwardRows, grp: number): GroupCounts {
  const mask = fwd.groupMask(grp);
  const nZ = fwd.perGroup[grp];
  const nCov = mask ? gg.inChannels * keptCoverage(gg, mask) : s.nCov;
  return { nZ, nCov, D: crossDependency(gg, mask), wUpper: Math.min(nZ, nCov) };
}

/** Pixels (per input channel) inside the window of at least one kept unit of a group. */
function keptCoverage(gg: ConvGeometry, mask: Uint8Array): number {
  const { height: H, width: Wd, outHeight: Ho, outWidth: Wo, outChannels: F } = gg;
  const [kh, kw] = gg.kernel;
  const hit = new Uint8Array(H * Wd);
  for (let u = 0; u < Ho; u++) {
    for (let v = 0; v < Wo; v++) {
      let any = false;
      for (let f = 0; f < F && !any; f++) any = mask[(f * Ho + u) * Wo + v] !== 0;
      if (!any) continue;
      for (let a = 0; a < kh; a++) {
        const i = u * gg.strides[0] + a * gg.dilations[0] - gg.pads[0];
        if (i < 0 || i >= H) continue;
        for (let b = 0; b < kw; b++) {
          const j = v * gg.strides[1] + b * gg.dilations[1] - gg.pads[1];
          if (j >= 0 && j < Wd) hit[i * Wd + j] = 1;
        }
      }
    }
  }
  return hit.reduce((a, b) => a + b, 0);
}

/**
 * Generic dim(row K ∩ row W_op) of one group (§4.2 effect 3), with only the kept forward rows in W_op.
 *
 * The cross identity (§3.2) for filters (f, f') is Σ W[f']·(gradient rows of f) = Σ_p δz[f,p]·(forward row (f', p)),
 * p = (u, v). A combination Σ α[f,f'] of identities, whose forward side has coefficient Σ_f α[f,f'] δz[f,p] on row
 * (f', p), lies in the span of the kept rows iff that coefficient vanishes on every dropped row: column α[:, f']
 * ranges over a space of dimension F − ρ(I_f'), I_f' = positions where f' is dropped and ρ(S) = rank of
 * Δ = (δz[f,p]) restricted to the columns S. The combinations that vanish identically (α W = 0 and αᵀ Δ = 0) are
 * removed as in the unmasked count:
 *
 *     D = Σ_f' (F − ρ(I_f')) − (F − min(F, C/g·k_h k_w)) · (F − ρ(all positions)).
 *
 * With every row kept, I_f' = ∅ and ρ(all) = min(F, H_o W_o): the unmasked formula. ρ is the generic rank of the
 * pattern of δz, which vanishes exactly on the dropped units, taken as min(#rows, #columns) holding a kept unit of
 * S (exact when the pattern has a perfect matching, as random ReLU patterns do). Like the unmasked D this is an
 * estimate for the closed form, validated against numerical ranks (layer-rank tests), not a bound.
 */
function crossDependency(gg: ConvGeometry, mask: Uint8Array | null): number {
  const F = gg.outChannels;
  const P = gg.outHeight * gg.outWidth;
  const ck = Math.min(F, gg.inChannels * gg.kernel[0] * gg.kernel[1]);
  if (!mask) return F * F - (F - ck) * (F - Math.min(F, P));
  // kept positions of every filter as bitsets over p
  const words = (P + 31) >>> 5;
  const bits = new Uint32Array(F * words);
  const keptAt = new Int32Array(P);
  let liveRows = 0;
  for (let f = 0; f < F; f++) {
    let any = false;
    for (let p = 0; p < P; p++) {
      if (!mask[f * P + p]) continue;
      bits[f * words + (p >>> 5)] |= 1 << (p & 31);
      keptAt[p]++;
      any = true;
    }
    if (any) liveRows++;
  }
  let liveCols = 0;
  for (let p = 0; p < P; p++) if (keptAt[p] > 0) liveCols++;
  let admissible = 0;
  for (let f2 = 0; f2 < F; f2++) {
    // ρ(I_f2): filters kept somewhere f2 is dropped, and positions where f2 is dropped but another filter is kept
    let rows = 0;
    for (let f = 0; f < F; f++) {
      for (let w = 0; w < words; w++) {
        if (bits[f * words + w] & ~bits[f2 * words + w]) {
          rows++;
          break;
        }
      }
    }
    let cols = 0;
    for (let p = 0; p < P; p++) if (!mask[f2 * P + p] && keptAt[p] > 0) cols++;
    admissible += F - Math.min(rows, cols);
  }
  return admissible - (F - ck) * (F - Math.min(liveRows, liveCols));
}

function sumOf(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function closedForm(nCov: number, rK: number, rW: number, D: number): number {
  return Math.min(nCov, rK + rW - Math.min(D, rK, rW));
}

/** Structural counts and bounds of a convolution layer (fields as in LayerRankResult). */
export type ConvRankBounds = Pick<LayerRankResult, 'nX' | 'nZ' | 'nZDropped' | 'nW' | 'naive' | 'uncoveredPixels' | 'nCovered' | 'bounds'>;

/** Structural counts and bounds of a convolution layer (no numerics), with forward rows kept per `activeOutputs`. */
export function convRankBounds(geom: ConvGeometry, activeOutputs?: Uint8Array): ConvRankBounds {
  return layerCounts(geom, structureOf(geom), ForwardRows.conv(geom, activeOutputs)).layer;
}

/** Per-group counts and the layer's structural counts and bounds. */
function layerCounts(geom: ConvGeometry, s: Structure, rows: ForwardRows): { groups: GroupCounts[]; layer: ConvRankBounds } {
  const gg = groupGeometry(geom);
  const groups = rows.perGroup.map((_, grp) => groupCounts(gg, s, rows, grp));
  const sum = (f: (c: GroupCounts) => number): number => groups.reduce((t, c) => t + f(c), 0);
  const nCovered = sum((c) => c.nCov);
  const cf = sum((c) => closedForm(c.nCov, s.latticeK, c.wUpper, c.D));
  return {
    groups,
    layer: {
      nX: geom.nX,
      nZ: rows.kept,
      nZDropped: rows.dropped,
      nW: geom.nW,
      naive: geom.nX - geom.nW - rows.kept,
      uncoveredPixels: geom.nX - nCovered,
      nCovered,
      bounds: {
        latticeRankK: geom.groups * s.latticeK,
        crossDependency: sum((c) => c.D),
        rankWUpper: sum((c) => c.wUpper),
        rankUUpper: sum((c) => Math.min(c.nCov, s.latticeK + c.wUpper)),
        closedFormRankU: cf,
        closedFormDeficiency: geom.nX - cf,
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Budget

class Budget {
  spent = 0;
  constructor(
    readonly maxFlops: number,
    readonly maxBytes: number,
  ) {}
  remaining(): number {
    return Math.max(0, this.maxFlops - this.spent);
  }
  fits(flops: number, bytes: number): boolean {
    return bytes <= this.maxBytes && this.spent + flops <= this.maxFlops;
  }
  charge(flops: number): void {
    this.spent += flops;
  }
}

function qrcpFlops(m: number, n: number): number {
  const r = Math.min(m, n);
  return 4 * m * n * r - 2 * (m + n) * r * r + (4 / 3) * r * r * r;
}

function geFlops(m: number, n: number): number {
  const s = Math.min(m, n);
  const l = Math.max(m, n);
  return s * s * l - (s * s * s) / 3;
}

// ---------------------------------------------------------------------------------------------------------------
// Convolution layer

/**
 * Counts, structural bounds and numerical ranks of K(δz), W_op and U = [K; W_op] for one convolution layer.
 * Weights and δz default to seeded Gaussian surrogates (generic ranks = architectural constants, §8 row 4).
 */
export function convLayerRank(geom: ConvGeometry, opts: LayerRankOptions = {}): LayerRankResult {
  const t0 = performance.now();
  const notes: string[] = [];
  const budget = new Budget(opts.maxFlops ?? DEFAULT_MAX_FLOPS, opts.maxDenseBytes ?? DEFAULT_MAX_DENSE_BYTES);
  const s = structureOf(geom);
  const fwd = ForwardRows.conv(geom, opts.activeOutputs);
  const { groups: counts, layer: base } = layerCounts(geom, s, fwd);
  const G = geom.groups;
  const gg = groupGeometry(geom);
  const mU = geom.nW + fwd.kept;
  const relU = Math.max(mU, geom.nX) * EPS;
  const tolerance: LayerRankTolerance = { relative: relU, sigmaK: 0, sigmaW: 0, sigmaU: 0, absK: 0, absW: 0, absU: 0 };

  /** rK, rW: per-group ranks (null = structural bound); rU: rank U of the layer (null = closed form). */
  const finish = (
    rK: number[] | null,
    rW: number[] | null,
    rU: number | null,
    method: RankMethod,
    srcK: RankSource = rK === null ? 'bound' : 'numeric',
  ): LayerRankResult => {
    const rankK = rK ? sumOf(rK) : base.bounds.latticeRankK;
    const rankW = rW ? sumOf(rW) : base.bounds.rankWUpper;
    // closed form per group with the best available ranks
    const cf = sumOf(counts.map((c, grp) => closedForm(c.nCov, rK ? rK[grp] : s.latticeK, rW ? rW[grp] : c.wUpper, c.D)));
    const rankU = rU ?? cf;
    return {
      kind: 'conv',
      nX: geom.nX,
      nZ: base.nZ,
      nZDropped: base.nZDropped,
      nW: geom.nW,
      nBias: opts.hasBias ? geom.outChannels : 0,
      naive: base.naive,
      uncoveredPixels: base.uncoveredPixels,
      nCovered: base.nCovered,
      rankK,
      rankW,
      rankU,
      deficiency: geom.nX - rankU,
      rankSource: { K: srcK, W: rW === null ? 'bound' : 'numeric', U: rU === null ? 'bound' : 'numeric' },
      bounds: { ...base.bounds, closedFormRankU: cf, closedFormDeficiency: geom.nX - cf },
      method: rU === null ? 'bound' : method,
      tolerance,
      fragile: false,
      flops: budget.spent,
      seconds: (performance.now() - t0) / 1000,
      notes,
    };
  };

  if (opts.method === 'bound') {
    notes.push('bounds only (requested)');
    return finish(null, null, null, 'bound');
  }
  // Weights and δz are made (or loaded) only now: the bound path above needs neither.
  const rng = createRng(opts.seed ?? 1);
  const W = (typeof opts.weights === 'function' ? opts.weights() : opts.weights) ?? rng.fillNormal(new Float64Array(geom.nW));
  if (W.length !== geom.nW) throw new RangeError(`convLayerRank: weights have ${W.length} entries, expected ${geom.nW}`);
  if (opts.outputGradient && opts.outputGradient.length !== geom.nZ) {
    throw new RangeError(`convLayerRank: output gradient has ${opts.outputGradient.length} entries, expected ${geom.nZ}`);
  }
  const dz = fwd.outputGradient(opts.outputGradient, () => rng.fillNormal(new Float64Array(geom.nZ)), 'convLayerRank');

  tolerance.absK = Math.max(geom.nW, geom.nX) * EPS;
  tolerance.absW = Math.max(fwd.kept, geom.nX) * EPS;
  const ops = new ConvOperator(geom);
  const nnzOp = geom.nZ * geom.inPerGroup * geom.kernel[0] * geom.kernel[1];
  const normFlops = NORM_ITERATIONS * 8 * nnzOp; // one power iteration = K or W_op and its transpose

  // --- path choice -------------------------------------------------------------------------------------------
  const nCovG = s.nCov;
  const denseCost = sumOf(fwd.perGroup.map((nz) => qrcpFlops(gg.nW + nz, nCovG) + qrcpFlops(gg.nW, nCovG) + qrcpFlops(nz, nCovG))) + 3 * normFlops;
  const denseBytes = 8 * 2 * (gg.nW + Math.max(...fwd.perGroup)) * nCovG;
  let method = opts.method ?? 'auto';
  if (method === 'auto') {
    method = denseCost <= (opts.denseThresholdFlops ?? DEFAULT_DENSE_THRESHOLD) && budget.fits(denseCost, denseBytes) ? 'dense' : 'structured';
  }
  if (method === 'dense') {
    if (!budget.fits(denseCost, denseBytes)) {
      notes.push(`dense path over budget (~${fmt(denseCost)} flops, ${fmt(denseBytes)} bytes); using the structured path`);
    } else {
      const Kop = ops.gradientOperator(dz);
      const Wop = fwd.operator(ops.forwardOperator(W));
      const sigmaK = estimateNorm2(Kop, { maxIter: NORM_ITERATIONS, relTol: NORM_REL_TOL });
      const sigmaW = estimateNorm2(Wop, { maxIter: NORM_ITERATIONS, relTol: NORM_REL_TOL });
      const sK = sigmaK > 0 ? 1 / sigmaK : 0;
      const sW = sigmaW > 0 ? 1 / sigmaW : 0;
      const sigmaU = estimateNorm2(stackOperators(Kop, Wop, sK, sW), { maxIter: NORM_ITERATIONS, relTol: NORM_REL_TOL });
      Object.assign(tolerance, { sigmaK, sigmaW, sigmaU, absU: Math.max(sigmaU, 1) * relU });
      if (sigmaK === 0) notes.push('δz is zero: rank K = 0 (no gradient equations)');
      if (sigmaW === 0) notes.push('the kernel is zero: rank W_op = 0');
      const r = denseRanks(geom, W, dz, sK, sW, tolerance, fwd);
      budget.charge(denseCost);
      const res = finish(r.rK, r.rW, r.rU, 'dense');
      res.fragile = r.fragile;
      if (r.fragile) notes.push('ill-conditioned: some rank decision had no clear gap; the rank depends on the tolerance');
      return res;
    }
  }

  // --- structured path ---------------------------------------------------------------------------------------
  const per = gg.nW; // kernel entries per group
  const zPer = gg.nZ;
  const Wg = (grp: number): Float64Array => W.subarray(grp * per, (grp + 1) * per);
  const dzg = (grp: number): Float64Array => dz.subarray(grp * zPer, (grp + 1) * zPer);

  // 1. rank K: residue-class blocks of every group; σ_K = max over blocks (K is block-diagonal)
  const kParts = factorK(gg, G, s, dzg, tolerance, budget, notes);
  const rK = kParts ? kParts.map((parts) => gg.inChannels * sumOf(parts.map((p) => p.rank))) : null;
  if (tolerance.sigmaK === 0 && kParts) notes.push('δz is zero: rank K = 0 (no gradient equations)');

  // 2. rank W_op: banded elimination per group, scaled by σ_W (matrix-free power iteration over the whole layer).
  //    The estimate for all groups must fit before any work is done.
  let rW: number[] | null = null;
  let fragile = false;
  const nnzBytes = 2 * 12 * gg.nZ * gg.inPerGroup * gg.kernel[0] * gg.kernel[1];
  const gops = new ConvOperator(gg);
  let wEstimate = Infinity;
  if (budget.fits(normFlops, nnzBytes)) {
    const probe = estimateSparseEliminationFlops(fwd.csr(gops.forwardCsr(Wg(0), 'hwc'), 0, 'hwc'), 'wide');
    wEstimate = probe.flops;
    if (!budget.fits(normFlops + G * wEstimate, 8 * 2 * probe.activeRows * (probe.window + 8))) {
      notes.push(`rank W_op over budget (~${fmt(normFlops + G * wEstimate)} flops estimated): bound min(n_z, n_cov) used`);
      wEstimate = Infinity;
    }
  } else {
    notes.push(`rank W_op over budget (norm estimate ~${fmt(normFlops)} flops, sparse operator ${fmt(nnzBytes)} bytes): bound min(n_z, n_cov) used`);
  }
  if (wEstimate < Infinity) {
    const sigmaW = estimateNorm2(fwd.operator(ops.forwardOperator(W)), { maxIter: NORM_ITERATIONS, relTol: NORM_REL_TOL });
    budget.charge(normFlops);
    tolerance.sigmaW = sigmaW;
    if (sigmaW === 0) notes.push('the kernel is zero: rank W_op = 0');
    const count = { unclear: 0 };
    rW = [];
    for (let grp = 0; grp < G; grp++) {
      const d =
        sigmaW === 0
          ? { rank: 0, how: 'none', clear: true }
          : rankWBanded(fwd.csr(gops.forwardCsr(Wg(grp), 'hwc'), grp, 'hwc'), 1 / sigmaW, tolerance.absW, budget, (G - grp - 1) * wEstimate);
      if (d.rank === null) {
        rW = null;
        notes.push('rank W_op aborted at the flop budget: bound min(n_z, n_cov) used');
        break;
      }
      rW.push(d.rank);
      if (!d.clear) count.unclear++;
    }
    const say = (k: number, what: string): void => {
      if (k) notes.push(`rank W_op: ${what}${G > 1 ? ` (${k} of ${G} groups)` : ''}`);
    };
    if (count.unclear) {
      fragile = true;
      say(count.unclear, 'ill-conditioned (no clear gap between kept and dropped pivots): the rank depends on the tolerance');
    }
  }

  // 3. rank U = rank K + rank(Ŵ N_K) per group, with shortcuts when rank K or rank W_op reaches n_cov.
  //    Û = [K/σ_K; W_op/σ_W] has σ_max ∈ [1, √2]: the shortcut uses the conservative √2 (fewer K directions
  //    count), the explicit product the estimated σ_max(Û).
  const countAbove = (parts: KClassFactor[], thr: number): number => {
    let c = 0;
    for (const p of parts) for (let k = 0; k < p.rank; k++) if (p.diag[k] > thr) c++;
    return c * gg.inChannels;
  };
  let rU: number | null = 0;
  tolerance.absU = Math.SQRT2 * relU;
  let sigmaUKnown = false;
  for (let grp = 0; grp < G && rU !== null; grp++) {
    const parts = kParts ? kParts[grp] : null;
    const rWgrp = rW ? rW[grp] : null;
    // input entries of the group inside a kept unit's window: rank U of the group cannot exceed them
    const nCovKept = counts[grp].nCov;
    if (rWgrp !== null && rWgrp >= nCovKept) {
      rU += nCovKept;
      continue;
    }
    if (!parts) {
      rU = null;
      break;
    }
    if (countAbove(parts, Math.SQRT2 * relU * tolerance.sigmaK) >= nCovKept) {
      rU += nCovKept;
      continue;
    }
    if (fwd.perGroup[grp] === 0 || (tolerance.sigmaW === 0 && rWgrp === 0)) {
      // no forward equations: rank U = rank K
      rU += countAbove(parts, tolerance.absK * tolerance.sigmaK);
      continue;
    }
    if (!sigmaUKnown) {
      if (!budget.fits(2 * normFlops, 0) || (tolerance.sigmaW === 0 && rW === null)) {
        rU = null;
        notes.push('rank U over budget (norm of the stacked system): closed form used');
        break;
      }
      const sK = tolerance.sigmaK > 0 ? 1 / tolerance.sigmaK : 0;
      const sW = tolerance.sigmaW > 0 ? 1 / tolerance.sigmaW : 0;
      tolerance.sigmaU = estimateNorm2(stackOperators(ops.gradientOperator(dz), fwd.operator(ops.forwardOperator(W)), sK, sW), {
        maxIter: NORM_ITERATIONS,
        relTol: NORM_REL_TOL,
      });
      budget.charge(2 * normFlops);
      tolerance.absU = Math.max(tolerance.sigmaU, 1) * relU;
      sigmaUKnown = true;
    }
    const kU = countAbove(parts, tolerance.absU * tolerance.sigmaK);
    if (kU >= nCovKept) {
      rU += nCovKept;
      continue;
    }
    const scaleW = tolerance.sigmaW > 0 ? 1 / tolerance.sigmaW : 0;
    const rm = rankWOnNullK(gg, s, Wg(grp), fwd, grp, scaleW, parts, tolerance.absU, tolerance.absU * tolerance.sigmaK, budget, notes, G - grp - 1);
    if (rm && !rm.clear) fragile = true;
    rU = rm === null ? null : rU + kU + rm.rank;
  }
  if (kParts) for (const parts of kParts) for (const p of parts) if (!p.clear) fragile = true;
  if (fragile && !notes.some((n) => n.includes('ill-conditioned')))
    notes.push('ill-conditioned: some rank decision had no clear gap; the rank depends on the tolerance');
  const res = finish(rK, rW, rU, 'structured');
  res.fragile = fragile;
  return res;
}

/** QRCP factor of one residue-class block of K_c (transposed: pixels × taps·filters). */
interface KClassFactor {
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
function factorK(
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
    notes.push(`rank K over budget (~${fmt(flops)} flops, ${fmt(bytes)} bytes): lattice bound used`);
    return null;
  }
  const { rows: rm, cols: cm } = s;
  const Ho = gg.outHeight;
  const Wo = gg.outWidth;
  const Wd = gg.width;
  const colOf = new Int32Array(gg.height * gg.width).fill(-1);
  const blocks: (DenseMatrix | null)[][] = [];
  let sigma = 0;
  for (let grp = 0; grp < G; grp++) {
    const dz = dzg(grp);
    const list: (DenseMatrix | null)[] = [];
    for (const cl of s.classes) {
      const npx = cl.pixels.length;
      const nrows = gg.outChannels * cl.taps.length;
      if (npx === 0 || nrows === 0) {
        list.push(null);
        continue;
      }
      for (let q = 0; q < npx; q++) colOf[cl.pixels[q]] = q;
      // Bᵀ: pixels × (f, tap)
      const Bt: DenseMatrix = { rows: npx, cols: nrows, data: new Float64Array(npx * nrows) };
      let r = 0;
      for (let f = 0; f < gg.outChannels; f++) {
        for (const { a, b } of cl.taps) {
          const offA = a * gg.dilations[0] - gg.pads[0];
          const offB = b * gg.dilations[1] - gg.pads[1];
          for (let u = rm.uLo[a]; u < rm.uHi[a]; u++) {
            const i = u * gg.strides[0] + offA;
            for (let v = cm.uLo[b]; v < cm.uHi[b]; v++) {
              const j = v * gg.strides[1] + offB;
              Bt.data[colOf[i * Wd + j] * nrows + r] = dz[(f * Ho + u) * Wo + v];
            }
          }
          r++;
        }
      }
      for (let q = 0; q < npx; q++) colOf[cl.pixels[q]] = -1;
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

/** Outcome of one rank decision: the rank (null = over budget), how it was obtained, and whether it was clear-cut. */
interface RankDecision {
  rank: number | null;
  how: 'wide' | 'tall' | 'qrcp' | 'elimination' | 'none';
  /** False when kept and dropped pivots were not well separated from the threshold (ill-conditioned). */
  clear: boolean;
}

/** QRCP flops are charged ×3 against the budget: the unblocked QRCP runs at ~1/3 of the blocked elimination's speed. */
const QRCP_CHARGE = 3;

/** Rank by QRCP (tall orientation) with a clear-gap verdict: last kept |R_kk| ≥ 100·tol and first dropped ≤ tol/100. */
function qrcpDecision(A: DenseMatrix, tol: number): { rank: number; clear: boolean } {
  const B = A.rows < A.cols ? transpose(A) : A;
  const f = qrcp(B, { tol, inPlace: B !== A });
  const keptOk = f.rank === 0 || f.diag[f.rank - 1] >= 100 * tol;
  const droppedOk = f.diag.length <= f.rank || f.diag[f.rank] <= tol / 100;
  return { rank: f.rank, clear: keptOk && droppedOk };
}

/**
 * rank of one group's kept W_op rows A (pixel-major 'hwc' order, where they are banded; scaled in place) by banded
 * elimination. The cheap 'wide' orientation is tried first; if its decisions were not clearly separated from the
 * threshold (EliminationResult.clearGap), the robust 'tall' orientation, then dense QRCP, are tried within the
 * budget. `reserve` is the budget to keep for the groups still to come.
 */
function rankWBanded(A: Csr, scale: number, tol: number, budget: Budget, reserve: number): RankDecision {
  if (scale === 0 || A.rows === 0) return { rank: 0, how: 'none', clear: true };
  for (let p = 0; p < A.values.length; p++) A.values[p] *= scale;
  let last: EliminationResult | null = null;
  for (const orientation of ['wide', 'tall'] as const) {
    const est = estimateSparseEliminationFlops(A, orientation);
    const frontBytes = 8 * 2 * est.activeRows * (est.window + 8);
    if (!budget.fits(est.flops + reserve, frontBytes)) break;
    const r = sparseEliminationRank(A, { tol, maxFlops: budget.remaining() - reserve, orientation });
    budget.charge(r.flops);
    if (r.aborted) break;
    if (r.clearGap) return { rank: r.rank, how: orientation, clear: true };
    last = r;
  }
  // still ambiguous: dense rank-revealing QR if it fits
  const m = Math.max(A.rows, A.cols);
  const n = Math.min(A.rows, A.cols);
  const qf = QRCP_CHARGE * qrcpFlops(m, n);
  if (budget.fits(qf + reserve, 8 * m * n)) {
    const d = qrcpDecision(csrToDense(A), tol);
    budget.charge(qf);
    return { rank: d.rank, how: 'qrcp', clear: d.clear };
  }
  if (!last) return { rank: null, how: 'none', clear: true };
  return { rank: last.rank, how: 'elimination', clear: false };
}

/**
 * rank(W_op N_K) for one group: rows = images under Ŵ (kept rows only) of the orthonormal null vectors of every class
 * block of K̂_c, for every input channel of the group. Null when over budget.
 */
function rankWOnNullK(
  gg: ConvGeometry,
  s: Structure,
  Wg: Float64Array,
  fwd: ForwardRows,
  grp: number,
  scale: number,
  parts0: KClassFactor[],
  tol: number,
  kThreshold: number,
  budget: Budget,
  notes: string[],
  groupsAfter = 0,
): { rank: number; clear: boolean } | null {
  const C = gg.inChannels;
  // rank of each class block at the U threshold (|R_kk| decreases along a QRCP)
  const parts = parts0.map((p) => {
    let rankU = 0;
    while (rankU < p.rank && p.diag[rankU] > kThreshold) rankU++;
    return { ...p, rankU };
  });
  let q = 0;
  let qFlops = 0;
  let maxQBytes = 0;
  for (const p of parts) {
    const npx = p.cls.pixels.length;
    const nn = npx - p.rankU;
    q += C * nn;
    qFlops += 4 * npx * nn * p.rankU;
    maxQBytes = Math.max(maxQBytes, 8 * npx * nn);
  }
  const nz = fwd.perGroup[grp];
  const buildFlops = 2 * q * gg.outChannels * gg.kernel[0] * gg.kernel[1] * gg.outHeight * gg.outWidth;
  const elimFlops = geFlops(q, nz);
  const flops = qFlops + buildFlops + elimFlops;
  const bytes = 2 * 8 * q * (nz + 8) + maxQBytes;
  if (q === 0 || nz === 0 || scale === 0) return { rank: 0, clear: true };
  if (!budget.fits(flops * (1 + groupsAfter), bytes)) {
    notes.push(`rank U over budget: W_op·N_K is ${nz}×${q} (~${fmt(flops)} flops, ${fmt(bytes)} bytes); closed form used`);
    return null;
  }
  const M: DenseMatrix = { rows: q, cols: nz, data: new Float64Array(q * nz) };
  const { rows: rm, cols: cm } = s;
  const [kh, kw] = gg.kernel;
  const [sh, sw] = gg.strides;
  const Ho = gg.outHeight;
  const Wo = gg.outWidth;
  const HoWo = Ho * Wo;
  const Wd = gg.width;
  const F = gg.outChannels;
  const x = new Float64Array(gg.height * gg.width);
  // with dropped rows, each image is formed in full and its kept entries gathered into M
  const take = fwd.gather(grp);
  const full = take ? new Float64Array(gg.nZ) : null;
  let row = 0;
  for (const p of parts) {
    const npx = p.cls.pixels.length;
    const nn = npx - p.rankU;
    if (nn === 0) continue;
    // orthonormal null basis of the class block: columns rankU… of Q from the QRCP of Bᵀ (identity if no factor)
    let N: DenseMatrix;
    if (p.factor) N = formQ(p.factor, p.rankU, npx);
    else {
      N = { rows: npx, cols: nn, data: new Float64Array(npx * nn) };
      for (let k = 0; k < nn; k++) N.data[k * nn + k] = 1;
    }
    for (let t = 0; t < nn; t++) {
      for (let k = 0; k < npx; k++) x[p.cls.pixels[k]] = N.data[k * nn + t];
      for (let c = 0; c < C; c++) {
        // z = Ŵ (e_c ⊗ x): only the class's taps see x
        const z = full ? full.fill(0) : M.data;
        const zo = full ? 0 : row * nz;
        for (let f = 0; f < F; f++) {
          const zf = zo + f * HoWo;
          for (const { a, b } of p.cls.taps) {
            const w = scale * Wg[((f * C + c) * kh + a) * kw + b];
            if (w === 0) continue;
            const offA = a * gg.dilations[0] - gg.pads[0];
            const offB = b * gg.dilations[1] - gg.pads[1];
            const v0 = cm.uLo[b];
            const v1 = cm.uHi[b];
            for (let u = rm.uLo[a]; u < rm.uHi[a]; u++) {
              const xr = (u * sh + offA) * Wd + offB;
              const zr = zf + u * Wo;
              for (let v = v0; v < v1; v++) z[zr + v] += w * x[xr + v * sw];
            }
          }
        }
        if (take) take(z, M.data, row * nz);
        row++;
      }
      for (let k = 0; k < npx; k++) x[p.cls.pixels[k]] = 0;
    }
  }
  const reserve = groupsAfter * flops;
  const r = eliminationRank(M, { tol, maxFlops: Math.max(budget.remaining() - qFlops - buildFlops - reserve, 0), orientation: 'tall' });
  budget.charge(qFlops + buildFlops + r.flops);
  if (r.aborted) {
    notes.push(`rank U aborted at the flop budget: closed form used`);
    return null;
  }
  if (!r.clearGap) {
    const qf = QRCP_CHARGE * qrcpFlops(q, nz);
    if (budget.fits(qf + reserve, 8 * q * nz)) {
      const d = qrcpDecision(M, tol);
      budget.charge(qf);
      return d;
    }
    notes.push(
      `rank W_op·N_K = ${r.rank} by elimination without a clear gap (smallest pivot ${r.minPivot.toExponential(1)}, largest rejected ${r.maxRejected.toExponential(1)}, threshold ${r.finalTol.toExponential(1)}); QRCP over budget`,
    );
    return { rank: r.rank, clear: false };
  }
  return { rank: r.rank, clear: true };
}

/**
 * Reference path: explicit dense K̂, Ŵ (kept rows) and Û restricted to covered columns, ranks by QRCP, group by
 * group. rK, rW per group.
 */
function denseRanks(
  geom: ConvGeometry,
  W: Float64Array,
  dz: Float64Array,
  sK: number,
  sW: number,
  tol: LayerRankTolerance,
  fwd: ForwardRows,
): { rK: number[]; rW: number[]; rU: number; fragile: boolean } {
  const gg = groupGeometry(geom);
  const ops = new ConvOperator(gg);
  const { rows, cols } = axisMaps(gg);
  const keep = new Int32Array(gg.nX).fill(-1);
  let nc = 0;
  for (let c = 0; c < gg.inChannels; c++)
    for (let i = 0; i < gg.height; i++)
      for (let j = 0; j < gg.width; j++) if (rows.covered[i] && cols.covered[j]) keep[(c * gg.height + i) * gg.width + j] = nc++;
  const rK: number[] = [];
  const rW: number[] = [];
  let rU = 0;
  let fragile = false;
  const decide = (A: DenseMatrix, tol: number): number => {
    if (A.rows === 0) return 0;
    const d = qrcpDecision(A, tol);
    if (!d.clear) fragile = true;
    return d.rank;
  };
  for (let grp = 0; grp < geom.groups; grp++) {
    const Wg = W.subarray(grp * gg.nW, (grp + 1) * gg.nW);
    const dzg = dz.subarray(grp * gg.nZ, (grp + 1) * gg.nZ);
    const K = csrScaleRows(csrSelectColumns(ops.gradientCsr(dzg), keep, nc), gg.nW, sK, sK);
    const Wm = csrScaleRows(csrSelectColumns(fwd.csr(ops.forwardCsr(Wg), grp, 'nchw'), keep, nc), 0, sW, sW);
    rK.push(sK === 0 ? 0 : decide(csrToDense(K), tol.absK));
    rW.push(sW === 0 ? 0 : decide(csrToDense(Wm), tol.absW));
    rU += decide(csrToDense(csrVStack(K, Wm)), tol.absU);
  }
  return { rK, rW, rU, fragile };
}

// ---------------------------------------------------------------------------------------------------------------
// Fully connected layer

/**
 * Fully connected layer (§3.1, §4.1): n_x = in; K(δz) = δz ⊗ I has rank n_x whenever δz ≠ 0 (a rank-one G
 * still gives n independent equations), so the deficiency is 0. rank W (of the kept rows) is computed numerically
 * when it fits.
 */
export function fullyConnectedLayerRank(inFeatures: number, outFeatures: number, opts: LayerRankOptions = {}): LayerRankResult {
  const t0 = performance.now();
  const op = new FullyConnectedOperator(inFeatures, outFeatures);
  const fwd = ForwardRows.fullyConnected(outFeatures, opts.activeOutputs);
  const notes: string[] = [];
  const rng = createRng(opts.seed ?? 1);
  if (opts.outputGradient && opts.outputGradient.length !== outFeatures) {
    throw new RangeError(`fullyConnectedLayerRank: output gradient has ${opts.outputGradient.length} entries, expected ${outFeatures}`);
  }
  const dz = fwd.outputGradient(opts.outputGradient, () => rng.fillNormal(new Float64Array(outFeatures)), 'fullyConnectedLayerRank');
  const loadWeights = (): Float64Array => {
    const W = (typeof opts.weights === 'function' ? opts.weights() : opts.weights) ?? rng.fillNormal(new Float64Array(op.nW));
    if (W.length !== op.nW) throw new RangeError(`fullyConnectedLayerRank: weights have ${W.length} entries, expected ${op.nW}`);
    return W;
  };
  const budget = new Budget(opts.maxFlops ?? DEFAULT_MAX_FLOPS, opts.maxDenseBytes ?? DEFAULT_MAX_DENSE_BYTES);
  const n = inFeatures;
  const m = outFeatures;
  const mk = fwd.kept; // kept forward rows
  let fragile = false;
  let dzNonZero = false;
  for (let i = 0; i < m; i++) if (dz[i] !== 0) dzNonZero = true;
  const rankK = dzNonZero ? n : 0;
  let rankW: number | null = null;
  const relW = Math.max(mk, n) * EPS;
  let sigmaW = 0;
  const cost = geFlops(mk, n) + 4 * NORM_ITERATIONS * m * n;
  if (mk === 0) rankW = 0;
  else if (opts.method !== 'bound' && budget.fits(cost, 2 * 8 * m * (n + 8))) {
    const W = loadWeights();
    const A = fwd.dense(op.forwardDense(W), 0);
    sigmaW = estimateNorm2(fwd.operator(op.forwardOperator(W)), { maxIter: NORM_ITERATIONS, relTol: NORM_REL_TOL });
    const r = sigmaW === 0 ? null : eliminationRank(A, { tol: sigmaW * relW });
    rankW = r ? r.rank : 0;
    if (r && !r.clearGap) {
      fragile = true;
      notes.push(`rank W by elimination without a clear gap (smallest pivot ${r.minPivot.toExponential(1)}, threshold ${r.finalTol.toExponential(1)})`);
    }
    budget.charge(cost);
  } else if (opts.method !== 'bound') {
    notes.push(`rank W over budget (~${fmt(cost)} flops): bound min(in, out) used`);
  }
  if (!dzNonZero) notes.push('δz is zero: the gradient carries no equation; only the forward rows remain');
  const rW = rankW ?? Math.min(mk, n);
  const rankU = dzNonZero ? n : rW;
  const D = dzNonZero ? rW : 0; // row(K) = Rⁿ ⊇ row(W): every forward row lies in the gradient row space
  return {
    kind: 'fullyConnected',
    nX: n,
    nZ: mk,
    nZDropped: fwd.dropped,
    nW: m * n,
    nBias: opts.hasBias ? m : 0,
    naive: n - m * n - mk,
    uncoveredPixels: 0,
    nCovered: n,
    rankK,
    rankW: rW,
    rankU,
    deficiency: n - rankU,
    rankSource: {
      K: 'exact',
      W: rankW === null ? 'bound' : mk === 0 ? 'exact' : 'numeric',
      U: dzNonZero ? 'exact' : rankW === null ? 'bound' : mk === 0 ? 'exact' : 'numeric',
    },
    bounds: {
      latticeRankK: n,
      crossDependency: D,
      rankWUpper: Math.min(mk, n),
      rankUUpper: n,
      closedFormRankU: rankU,
      closedFormDeficiency: n - rankU,
    },
    method: 'structured',
    tolerance: { relative: relW, sigmaK: 0, sigmaW, sigmaU: 0, absK: 0, absW: sigmaW * relW, absU: 0 },
    fragile,
    flops: budget.spent,
    seconds: (performance.now() - t0) / 1000,
    notes,
  };
}

/** Convenience: geometry + rank in one call (shape CHW, attributes as in ConvGeometryInit). */
export function convLayerRankFor(
  input: [number, number, number],
  conv: {
    outChannels: number;
    kernel: number | [number, number];
    strides?: number | [number, number];
    pads?: number | [number, number, number, number];
    dilations?: number | [number, number];
    groups?: number;
  },
  opts: LayerRankOptions = {},
): LayerRankResult {
  const geom = convGeometry({ inChannels: input[0], height: input[1], width: input[2], ...conv });
  return convLayerRank(geom, opts);
}

function fmt(x: number): string {
  if (x >= 1e9) return `${(x / 1e9).toFixed(1)}e9`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(1)}e6`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}e3`;
  return String(Math.round(x));
}
