// Matrix-free convolution and fully-connected operators of the layer systems (docs/algorithm.md §3.1, §3.2).
//
// Conv (cross-correlation, NCHW/OIHW, unpadded unknowns, padding folded into the index maps):
//   forward            z = W_op x                 z[f,u,v] = Σ_{c',a,b'} W[f,c',a,b'] x̃[c, u s_h + a d_h − p_t, v s_w + b' d_w − p_l]
//   forwardTranspose   δx = W_opᵀ δz              (transposed convolution; the input gradient)
//   gradient           vec G = K(δz) x            G[f,c',a,b'] = Σ_{u,v} δz[f,u,v] x̃[c, …]   (the weight gradient)
//   gradientTranspose  K(δz)ᵀ g
// with c = γ(f)·C_in/g + c' and x̃ = 0 outside the image. No bias anywhere (z − b is the caller's business).
// Builders return the same maps as CSR / dense matrices, in NCHW order or in a pixel-major (HWC) order whose
// rows are banded (used by the rank analysis).

import { symmetricBand, type SymmetricBand } from './bandCholesky';
import { axisMaps, type AxisMap, type ConvGeometry } from './convGeometry';
import type { DenseMatrix } from './dense';
import type { LinearOperator } from './linearOperator';
import { csrToDense, type Csr } from './sparse';

/** Flattening order of activations in the built matrices: 'nchw' (the engine convention) or 'hwc' (pixel-major). */
export type ActivationLayout = 'nchw' | 'hwc';

function need(name: string, a: Float64Array, n: number): void {
  if (a.length !== n) throw new RangeError(`${name}: expected ${n} entries, got ${a.length}`);
}

function outBuffer(out: Float64Array | undefined, n: number, name: string): Float64Array {
  if (!out) return new Float64Array(n);
  need(name, out, n);
  out.fill(0);
  return out;
}

/** The linear maps of one convolution layer (see file header). Stateless apart from precomputed index maps. */
export class ConvOperator {
  readonly geom: ConvGeometry;
  readonly rowMap: AxisMap;
  readonly colMap: AxisMap;

  constructor(geom: ConvGeometry) {
    this.geom = geom;
    const { rows, cols } = axisMaps(geom);
    this.rowMap = rows;
    this.colMap = cols;
  }

  /**
   * Core loop over (f, c', a, b', u, v) with the valid (u, v) ranges precomputed: calls are specialised by `mode`
   * so that the innermost loop is a plain strided multiply-add.
   * mode 0: out_z += W·x        (forward)
   * mode 1: out_x += W·dz       (forwardTranspose)
   * mode 2: out_g  = Σ dz·x     (gradient)
   * mode 3: out_x += g·dz       (gradientTranspose)
   * `taps` (k_h·k_w flags, a·k_w + b') restricts modes 0 and 1 to some kernel taps.
   */
  private run(mode: 0 | 1 | 2 | 3, k: Float64Array, zlike: Float64Array, xlike: Float64Array, taps?: Uint8Array): void {
    const g = this.geom;
    const H = g.height;
    const Wd = g.width;
    const Ho = g.outHeight;
    const Wo = g.outWidth;
    const [kh, kw] = g.kernel;
    const [sh, sw] = g.strides;
    const [dh, dw] = g.dilations;
    const pt = g.pads[0];
    const pl = g.pads[1];
    const ipg = g.inPerGroup;
    const opg = g.outPerGroup;
    const uLo = this.rowMap.uLo;
    const uHi = this.rowMap.uHi;
    const vLo = this.colMap.uLo;
    const vHi = this.colMap.uHi;
    const HW = H * Wd;
    const HoWo = Ho * Wo;
    for (let f = 0; f < g.outChannels; f++) {
      const grp = Math.floor(f / opg);
      const zBase = f * HoWo;
      for (let cr = 0; cr < ipg; cr++) {
        const xBase = (grp * ipg + cr) * HW;
        for (let a = 0; a < kh; a++) {
          const u0 = uLo[a];
          const u1 = uHi[a];
          if (u1 <= u0) continue;
          const offA = a * dh - pt;
          for (let b = 0; b < kw; b++) {
            if (taps && !taps[a * kw + b]) continue;
            const v0 = vLo[b];
            const v1 = vHi[b];
            const widx = ((f * ipg + cr) * kh + a) * kw + b;
            if (v1 <= v0) {
              if (mode === 2) k[widx] = 0;
              continue;
            }
            const offB = b * dw - pl;
            if (mode === 2) {
              let s = 0;
              for (let u = u0; u < u1; u++) {
                const xr = xBase + (u * sh + offA) * Wd + offB;
                const zr = zBase + u * Wo;
                for (let v = v0; v < v1; v++) s += zlike[zr + v] * xlike[xr + v * sw];
              }
              k[widx] = s;
              continue;
            }
            const w = k[widx];
            if (w === 0) continue;
            if (mode === 0) {
              for (let u = u0; u < u1; u++) {
                const xr = xBase + (u * sh + offA) * Wd + offB;
                const zr = zBase + u * Wo;
                for (let v = v0; v < v1; v++) zlike[zr + v] += w * xlike[xr + v * sw];
              }
            } else {
              for (let u = u0; u < u1; u++) {
                const xr = xBase + (u * sh + offA) * Wd + offB;
                const zr = zBase + u * Wo;
                for (let v = v0; v < v1; v++) xlike[xr + v * sw] += w * zlike[zr + v];
              }
            }
          }
        }
      }
    }
  }

  /**
   * z = W_op x (no bias). W: OIHW kernel (n_w), x: input (n_x). With `taps` (k_h·k_w flags), only those kernel taps:
   * enough when x is zero on every pixel the other taps read.
   */
  forward(W: Float64Array, x: Float64Array, out?: Float64Array, taps?: Uint8Array): Float64Array {
    const g = this.geom;
    need('forward: kernel', W, g.nW);
    need('forward: input', x, g.nX);
    const z = outBuffer(out, g.nZ, 'forward: output');
    this.run(0, W, z, x, taps);
    return z;
  }

  /** δx = W_opᵀ δz (transposed convolution; the gradient with respect to the input), optionally over some taps only. */
  forwardTranspose(W: Float64Array, dz: Float64Array, out?: Float64Array, taps?: Uint8Array): Float64Array {
    const g = this.geom;
    need('forwardTranspose: kernel', W, g.nW);
    need('forwardTranspose: output gradient', dz, g.nZ);
    const x = outBuffer(out, g.nX, 'forwardTranspose: result');
    this.run(1, W, dz, x, taps);
    return x;
  }

  /** G = K(δz) x: the weight gradient (OIHW, n_w entries) of ⟨δz, conv(W, x)⟩. */
  gradient(dz: Float64Array, x: Float64Array, out?: Float64Array): Float64Array {
    const g = this.geom;
    need('gradient: output gradient', dz, g.nZ);
    need('gradient: input', x, g.nX);
    const G = outBuffer(out, g.nW, 'gradient: result');
    this.run(2, G, dz, x);
    return G;
  }

  /** K(δz)ᵀ g for a weight-shaped vector g (result has the input's shape). */
  gradientTranspose(dz: Float64Array, gw: Float64Array, out?: Float64Array): Float64Array {
    const g = this.geom;
    need('gradientTranspose: output gradient', dz, g.nZ);
    need('gradientTranspose: weight-shaped vector', gw, g.nW);
    const x = outBuffer(out, g.nX, 'gradientTranspose: result');
    this.run(3, gw, dz, x);
    return x;
  }

  /**
   * A column order of the input that makes W_opᵀ W_op banded: group-major, then pixel-major (rows, columns), then the
   * channel within the group. Two pixels share a window only within (k_h − 1)·d_h rows and (k_w − 1)·d_w columns, so
   * the half-bandwidth is (k_h − 1)·d_h·W·C_in/g + (k_w − 1)·d_w·C_in/g + C_in/g − 1. `position[nchw index]`.
   */
  bandOrder(): { position: Int32Array; bandwidth: number } {
    const g = this.geom;
    const ipg = g.inPerGroup;
    const HW = g.height * g.width;
    const position = new Int32Array(g.nX);
    for (let c = 0; c < g.inChannels; c++) {
      const grp = Math.floor(c / ipg);
      const cr = c - grp * ipg;
      for (let p = 0; p < HW; p++) position[c * HW + p] = grp * HW * ipg + p * ipg + cr;
    }
    const bandwidth = ((g.kernel[0] - 1) * g.dilations[0] * g.width + (g.kernel[1] - 1) * g.dilations[1] + 1) * ipg - 1;
    return { position, bandwidth };
  }

  /**
   * The lower band of W_opᵀ diag(rowWeights) W_op in `bandOrder()` (rowWeights per output unit; 0 leaves a row out).
   * The rows of one output position share their taps, so the band gets, per position, the Gram matrix of the tap
   * entries over the group's filters: computed once for positions whose rows all have weight 1, else on the spot.
   */
  forwardNormalBand(W: Float64Array, rowWeights: Float64Array): SymmetricBand {
    const g = this.geom;
    need('forwardNormalBand: kernel', W, g.nW);
    need('forwardNormalBand: row weights', rowWeights, g.nZ);
    const { bandwidth: b } = this.bandOrder();
    const band = symmetricBand(g.nX, b);
    const data = band.data;
    const [kh, kw] = g.kernel;
    const ipg = g.inPerGroup;
    const opg = g.outPerGroup;
    const HoWo = g.outHeight * g.outWidth;
    // tap entries e = (a·k_w + b')·C_in/g + c': at a fixed output position their band positions increase with e
    const T = kh * kw * ipg;
    const full = new Float64Array(T * T);
    const partial = new Float64Array(T * T);
    const entry = new Int32Array(T);
    const position = new Int32Array(T);
    const tapGram = (grp: number, M: Float64Array, weightOf: (f: number) => number): boolean => {
      M.fill(0);
      let any = false;
      for (let f = grp * opg; f < (grp + 1) * opg; f++) {
        const weight = weightOf(f);
        if (weight === 0) continue;
        any = true;
        const kernelBase = f * T; // OIHW: (c', a, b') of filter f
        for (let e = 0; e < T; e++) {
          const we = weight * W[kernelBase + (e % ipg) * kh * kw + Math.floor(e / ipg)];
          if (we === 0) continue;
          for (let e2 = 0; e2 <= e; e2++) M[e * T + e2] += we * W[kernelBase + (e2 % ipg) * kh * kw + Math.floor(e2 / ipg)];
        }
      }
      return any;
    };
    for (let grp = 0; grp < g.groups; grp++) {
      tapGram(grp, full, () => 1);
      const groupBase = grp * g.height * g.width * ipg;
      for (let u = 0; u < g.outHeight; u++) {
        for (let v = 0; v < g.outWidth; v++) {
          const unit = u * g.outWidth + v;
          let allKept = true;
          for (let f = grp * opg; f < (grp + 1) * opg && allKept; f++) allKept = rowWeights[f * HoWo + unit] === 1;
          const M = allKept ? full : partial;
          if (!allKept && !tapGram(grp, partial, (f) => rowWeights[f * HoWo + unit])) continue;
          let nnz = 0;
          for (let a = 0; a < kh; a++) {
            const i = u * g.strides[0] + a * g.dilations[0] - g.pads[0];
            if (i < 0 || i >= g.height) continue;
            for (let bb = 0; bb < kw; bb++) {
              const j = v * g.strides[1] + bb * g.dilations[1] - g.pads[1];
              if (j < 0 || j >= g.width) continue;
              for (let cr = 0; cr < ipg; cr++) {
                entry[nnz] = (a * kw + bb) * ipg + cr;
                position[nnz++] = groupBase + (i * g.width + j) * ipg + cr;
              }
            }
          }
          for (let s1 = 0; s1 < nnz; s1++) {
            const p = position[s1];
            const rowBase = (p + 1) * (band.stride - 1); // entry (p, q) at rowBase + q
            const gramRow = entry[s1] * T;
            for (let t = 0; t <= s1; t++) data[rowBase + position[t]] += M[gramRow + entry[t]];
          }
        }
      }
    }
    return band;
  }

  /** Input gradient of the forward map = forwardTranspose (alias matching the attack's vocabulary). */
  inputGradient(W: Float64Array, dz: Float64Array, out?: Float64Array): Float64Array {
    return this.forwardTranspose(W, dz, out);
  }

  /** Flat input index of (c, i, j) in a layout. */
  inputIndex(c: number, i: number, j: number, layout: ActivationLayout = 'nchw'): number {
    const g = this.geom;
    return layout === 'nchw' ? (c * g.height + i) * g.width + j : (i * g.width + j) * g.inChannels + c;
  }

  /** Flat output index of (f, u, v) in a layout. */
  outputIndex(f: number, u: number, v: number, layout: ActivationLayout = 'nchw'): number {
    const g = this.geom;
    return layout === 'nchw' ? (f * g.outHeight + u) * g.outWidth + v : (u * g.outWidth + v) * g.outChannels + f;
  }

  /**
   * W_op as CSR (n_z × n_x). Rows and columns follow `layout` on both sides. In the 'hwc' layout every row's
   * non-zeros lie in a band of about (k_h − 1)·d_h·W·C_in + k_w·C_in columns, which the rank code exploits.
   */
  forwardCsr(W: Float64Array, layout: ActivationLayout = 'nchw'): Csr {
    const g = this.geom;
    need('forwardCsr: kernel', W, g.nW);
    const { outChannels: F, outHeight: Ho, outWidth: Wo, inPerGroup: ipg, outPerGroup: opg } = g;
    const [kh, kw] = g.kernel;
    const [sh, sw] = g.strides;
    const [dh, dw] = g.dilations;
    const pt = g.pads[0];
    const pl = g.pads[1];
    const H = g.height;
    const Wd = g.width;
    const perRow = ipg * kh * kw;
    const rowPtr = new Int32Array(g.nZ + 1);
    const colIdx = new Int32Array(g.nZ * perRow);
    const values = new Float64Array(g.nZ * perRow);
    const C = g.inChannels;
    let p = 0;
    // rows visited in the layout's order so that the CSR is produced directly
    const visit = (f: number, u: number, v: number): void => {
      const grp = Math.floor(f / opg);
      for (let cr = 0; cr < ipg; cr++) {
        const c = grp * ipg + cr;
        for (let a = 0; a < kh; a++) {
          const i = u * sh + a * dh - pt;
          if (i < 0 || i >= H) continue;
          for (let b = 0; b < kw; b++) {
            const j = v * sw + b * dw - pl;
            if (j < 0 || j >= Wd) continue;
            const w = W[((f * ipg + cr) * kh + a) * kw + b];
            if (w === 0) continue;
            colIdx[p] = layout === 'nchw' ? (c * H + i) * Wd + j : (i * Wd + j) * C + c;
            values[p++] = w;
          }
        }
      }
    };
    let r = 0;
    if (layout === 'nchw') {
      for (let f = 0; f < F; f++)
        for (let u = 0; u < Ho; u++)
          for (let v = 0; v < Wo; v++) {
            visit(f, u, v);
            rowPtr[++r] = p;
          }
    } else {
      for (let u = 0; u < Ho; u++)
        for (let v = 0; v < Wo; v++)
          for (let f = 0; f < F; f++) {
            visit(f, u, v);
            rowPtr[++r] = p;
          }
    }
    return { rows: g.nZ, cols: g.nX, rowPtr, colIdx: colIdx.slice(0, p), values: values.slice(0, p) };
  }

  /**
   * K(δz) as CSR (n_w × n_x): row (f, c', a, b') in OIHW order, columns in `layout` order; the entry at input
   * pixel (c, u s_h + a d_h − p_t, v s_w + b' d_w − p_l) is δz[f, u, v].
   */
  gradientCsr(dz: Float64Array, layout: ActivationLayout = 'nchw'): Csr {
    const g = this.geom;
    need('gradientCsr: output gradient', dz, g.nZ);
    const { outChannels: F, outHeight: Ho, outWidth: Wo, inPerGroup: ipg, outPerGroup: opg } = g;
    const [kh, kw] = g.kernel;
    const [sh, sw] = g.strides;
    const [dh, dw] = g.dilations;
    const pt = g.pads[0];
    const pl = g.pads[1];
    const H = g.height;
    const Wd = g.width;
    const C = g.inChannels;
    const rowPtr = new Int32Array(g.nW + 1);
    const cap = g.nW * Ho * Wo;
    const colIdx = new Int32Array(cap);
    const values = new Float64Array(cap);
    let p = 0;
    let r = 0;
    for (let f = 0; f < F; f++) {
      const grp = Math.floor(f / opg);
      for (let cr = 0; cr < ipg; cr++) {
        const c = grp * ipg + cr;
        for (let a = 0; a < kh; a++) {
          for (let b = 0; b < kw; b++) {
            for (let u = this.rowMap.uLo[a]; u < this.rowMap.uHi[a]; u++) {
              const i = u * sh + a * dh - pt;
              for (let v = this.colMap.uLo[b]; v < this.colMap.uHi[b]; v++) {
                const d = dz[(f * Ho + u) * Wo + v];
                if (d === 0) continue;
                const j = v * sw + b * dw - pl;
                colIdx[p] = layout === 'nchw' ? (c * H + i) * Wd + j : (i * Wd + j) * C + c;
                values[p++] = d;
              }
            }
            rowPtr[++r] = p;
          }
        }
      }
    }
    return { rows: g.nW, cols: g.nX, rowPtr, colIdx: colIdx.slice(0, p), values: values.slice(0, p) };
  }

  /** W_op as a dense n_z × n_x matrix (small layers only: n_z·n_x·8 bytes). */
  forwardDense(W: Float64Array, layout: ActivationLayout = 'nchw'): DenseMatrix {
    return csrToDense(this.forwardCsr(W, layout));
  }

  /** K(δz) as a dense n_w × n_x matrix. */
  gradientDense(dz: Float64Array, layout: ActivationLayout = 'nchw'): DenseMatrix {
    return csrToDense(this.gradientCsr(dz, layout));
  }

  /** W_op as a matrix-free LinearOperator (for LSQR and norm estimates). */
  forwardOperator(W: Float64Array): LinearOperator {
    need('forwardOperator: kernel', W, this.geom.nW);
    return {
      rows: this.geom.nZ,
      cols: this.geom.nX,
      apply: (x, out) => void this.forward(W, x, out),
      applyTranspose: (y, out) => void this.forwardTranspose(W, y, out),
    };
  }

  /** K(δz) as a matrix-free LinearOperator. */
  gradientOperator(dz: Float64Array): LinearOperator {
    need('gradientOperator: output gradient', dz, this.geom.nZ);
    return {
      rows: this.geom.nW,
      cols: this.geom.nX,
      apply: (x, out) => void this.gradient(dz, x, out),
      applyTranspose: (y, out) => void this.gradientTranspose(dz, y, out),
    };
  }
}

/** Conv cross identity (§3.2): Σ_{c',a,b'} W[f',c',a,b'] G[f,c',a,b'] for all (f, f') of the same group, as a C_out×C_out
 *  matrix (entries for different groups are 0). Equals Σ_{u,v} δz[f,u,v]·(z[f',u,v] − b[f']). */
export function convCrossGram(geom: ConvGeometry, W: Float64Array, G: Float64Array): Float64Array {
  const F = geom.outChannels;
  const per = geom.inPerGroup * geom.kernel[0] * geom.kernel[1];
  const out = new Float64Array(F * F);
  for (let f = 0; f < F; f++) {
    for (let f2 = 0; f2 < F; f2++) {
      if (Math.floor(f / geom.outPerGroup) !== Math.floor(f2 / geom.outPerGroup)) continue;
      let s = 0;
      for (let k = 0; k < per; k++) s += W[f2 * per + k] * G[f * per + k];
      out[f * F + f2] = s;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Fully connected layer (§3.1): z = W x + b, W ∈ R^{m×n} row-major [out, in].

export class FullyConnectedOperator {
  /** n: input features (unknowns). */
  readonly inFeatures: number;
  /** m: output features. */
  readonly outFeatures: number;

  constructor(inFeatures: number, outFeatures: number) {
    if (!Number.isInteger(inFeatures) || inFeatures < 1 || !Number.isInteger(outFeatures) || outFeatures < 1) {
      throw new RangeError(`fully connected operator: bad sizes ${outFeatures}×${inFeatures}`);
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
  }

  get nX(): number {
    return this.inFeatures;
  }
  get nZ(): number {
    return this.outFeatures;
  }
  get nW(): number {
    return this.inFeatures * this.outFeatures;
  }

  /** z = W x (no bias). */
  forward(W: Float64Array, x: Float64Array, out?: Float64Array): Float64Array {
    const m = this.outFeatures;
    const n = this.inFeatures;
    need('fc forward: weights', W, m * n);
    need('fc forward: input', x, n);
    const z = outBuffer(out, m, 'fc forward: output');
    for (let i = 0; i < m; i++) {
      let s = 0;
      const ri = i * n;
      for (let j = 0; j < n; j++) s += W[ri + j] * x[j];
      z[i] = s;
    }
    return z;
  }

  /** δx = Wᵀ δz. */
  forwardTranspose(W: Float64Array, dz: Float64Array, out?: Float64Array): Float64Array {
    const m = this.outFeatures;
    const n = this.inFeatures;
    need('fc forwardTranspose: weights', W, m * n);
    need('fc forwardTranspose: output gradient', dz, m);
    const x = outBuffer(out, n, 'fc forwardTranspose: result');
    for (let i = 0; i < m; i++) {
      const d = dz[i];
      if (d === 0) continue;
      const ri = i * n;
      for (let j = 0; j < n; j++) x[j] += W[ri + j] * d;
    }
    return x;
  }

  /** G = δz xᵀ (m×n, row-major): vec G = K(δz) x with K(δz) = δz ⊗ I_n. */
  gradient(dz: Float64Array, x: Float64Array, out?: Float64Array): Float64Array {
    const m = this.outFeatures;
    const n = this.inFeatures;
    need('fc gradient: output gradient', dz, m);
    need('fc gradient: input', x, n);
    const G = outBuffer(out, m * n, 'fc gradient: result');
    for (let i = 0; i < m; i++) {
      const d = dz[i];
      const ri = i * n;
      for (let j = 0; j < n; j++) G[ri + j] = d * x[j];
    }
    return G;
  }

  /** K(δz)ᵀ g = gᵀ δz summed over rows: Σ_i δz_i g[i, :]. */
  gradientTranspose(dz: Float64Array, gw: Float64Array, out?: Float64Array): Float64Array {
    const m = this.outFeatures;
    const n = this.inFeatures;
    need('fc gradientTranspose: output gradient', dz, m);
    need('fc gradientTranspose: weight-shaped vector', gw, m * n);
    const x = outBuffer(out, n, 'fc gradientTranspose: result');
    for (let i = 0; i < m; i++) {
      const d = dz[i];
      if (d === 0) continue;
      const ri = i * n;
      for (let j = 0; j < n; j++) x[j] += gw[ri + j] * d;
    }
    return x;
  }

  /** W as CSR (m×n; explicit zeros dropped). */
  forwardCsr(W: Float64Array): Csr {
    const m = this.outFeatures;
    const n = this.inFeatures;
    need('fc forwardCsr: weights', W, m * n);
    const rowPtr = new Int32Array(m + 1);
    const colIdx = new Int32Array(m * n);
    const values = new Float64Array(m * n);
    let p = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        const w = W[i * n + j];
        if (w === 0) continue;
        colIdx[p] = j;
        values[p++] = w;
      }
      rowPtr[i + 1] = p;
    }
    return { rows: m, cols: n, rowPtr, colIdx: colIdx.slice(0, p), values: values.slice(0, p) };
  }

  /** K(δz) = δz ⊗ I_n as CSR ((m·n) × n): row (i, j) has δz_i in column j. */
  gradientCsr(dz: Float64Array): Csr {
    const m = this.outFeatures;
    const n = this.inFeatures;
    need('fc gradientCsr: output gradient', dz, m);
    const rowPtr = new Int32Array(m * n + 1);
    const colIdx = new Int32Array(m * n);
    const values = new Float64Array(m * n);
    let p = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        if (dz[i] !== 0) {
          colIdx[p] = j;
          values[p++] = dz[i];
        }
        rowPtr[i * n + j + 1] = p;
      }
    }
    return { rows: m * n, cols: n, rowPtr, colIdx: colIdx.slice(0, p), values: values.slice(0, p) };
  }

  forwardDense(W: Float64Array): DenseMatrix {
    need('fc forwardDense: weights', W, this.nW);
    return { rows: this.outFeatures, cols: this.inFeatures, data: W.slice() };
  }

  gradientDense(dz: Float64Array): DenseMatrix {
    return csrToDense(this.gradientCsr(dz));
  }

  forwardOperator(W: Float64Array): LinearOperator {
    return {
      rows: this.outFeatures,
      cols: this.inFeatures,
      apply: (x, out) => void this.forward(W, x, out),
      applyTranspose: (y, out) => void this.forwardTranspose(W, y, out),
    };
  }

  gradientOperator(dz: Float64Array): LinearOperator {
    return {
      rows: this.nW,
      cols: this.inFeatures,
      apply: (x, out) => void this.gradient(dz, x, out),
      applyTranspose: (y, out) => void this.gradientTranspose(dz, y, out),
    };
  }

  /**
   * Closed-form input from the gradient (§3.1, §7.7): x = Gᵀ d / (dᵀ d), the least-squares solution of
   * min ‖G − d xᵀ‖_F, with d = g (bias gradient) or the known δz. Returns null when d = 0.
   */
  static inputFromGradient(G: Float64Array, d: Float64Array, inFeatures: number): Float64Array | null {
    const m = d.length;
    need('inputFromGradient: gradient', G, m * inFeatures);
    let dd = 0;
    for (let i = 0; i < m; i++) dd += d[i] * d[i];
    if (dd === 0) return null;
    const x = new Float64Array(inFeatures);
    for (let i = 0; i < m; i++) {
      const di = d[i];
      if (di === 0) continue;
      const ri = i * inFeatures;
      for (let j = 0; j < inFeatures; j++) x[j] += G[ri + j] * di;
    }
    for (let j = 0; j < inFeatures; j++) x[j] /= dd;
    return x;
  }
}
