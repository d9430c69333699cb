// The structure of a convolution layer's system without numerics: stride residue classes of K_c, covered pixels, the
// cross-dependency estimate, and the structural counts and bounds (docs/algorithm.md §4.1, §4.2).
import { axisMaps, groupGeometry, type AxisMap, type ConvGeometry } from '../../numerics/convGeometry';
import { residueClasses, type ResidueClass } from '../../numerics/convResidueClasses';
import { ForwardRows } from './forwardRows';
import type { ConvRankBounds } from './types';

export type { ResidueClass };

export interface Structure {
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
export function structureOf(g: ConvGeometry): Structure {
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

/** Counts of one group that depend on the kept rows. */
export interface GroupCounts {
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

export function sumOf(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

export function closedForm(nCov: number, rK: number, rW: number, D: number): number {
  return Math.min(nCov, rK + rW - Math.min(D, rK, rW));
}

/** Structural counts and bounds of a convolution layer (no numerics), with forward rows kept per `activeOutputs`. */
export function convRankBounds(geom: ConvGeometry, activeOutputs?: Uint8Array): ConvRankBounds {
  return layerCounts(geom, structureOf(geom), ForwardRows.conv(geom, activeOutputs)).layer;
}

/** Per-group counts and the layer's structural counts and bounds. */
export function layerCounts(geom: ConvGeometry, s: Structure, rows: ForwardRows): { groups: GroupCounts[]; layer: ConvRankBounds } {
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
