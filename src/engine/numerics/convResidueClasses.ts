// Stride residue classes of a convolution's gradient block (docs/algorithm.md §4.2 effect 2): tap (a, b') only reaches
// input pixels whose row is ≡ a·d_h − p_t (mod s_h) and whose column is ≡ b'·d_w − p_l (mod s_w). So K_c, the gradient
// block shared by the input channels of one group, is block-diagonal over the s_h·s_w classes: the rows of one class
// are (filter, tap of the class), its columns the covered pixels of the class. The rank analysis counts rank K per
// class; the attack factors each class block to solve the gradient rows exactly (§5.4).
import type { AxisMap, ConvGeometry } from './convGeometry';
import type { DenseMatrix } from './dense';

/** One stride residue class (ρ, γ) of a single channel's gradient block K_c. */
export interface ResidueClass {
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

/**
 * The residue classes that hold a tap, in (ρ, γ) order (pass the group geometry for a grouped convolution). A pixel is
 * covered only through a tap of its own class, so the other classes (s_h·s_w − at most k_h·k_w of them: a stride of
 * 10⁹ makes 10¹⁸) hold no pixel either and contribute nothing: they are never listed, which keeps the work
 * independent of the stride.
 */
export function residueClasses(g: ConvGeometry, rows: AxisMap, cols: AxisMap): ResidueClass[] {
  const [sh, sw] = g.strides;
  const [kh, kw] = g.kernel;
  const out: ResidueClass[] = [];
  for (const rho of tapClasses(rows, g.dilations[0], g.pads[0], sh)) {
    for (const gamma of tapClasses(cols, g.dilations[1], g.pads[1], sw)) {
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

/** Residue classes (mod the stride) of the taps along one axis whose output range is not empty, in increasing order. */
function tapClasses(axis: AxisMap, dilation: number, padBefore: number, stride: number): number[] {
  const classes = new Set<number>();
  for (let a = 0; a < axis.kernel; a++) if (axis.uHi[a] > axis.uLo[a]) classes.add(mod(a * dilation - padBefore, stride));
  return [...classes].sort((x, y) => x - y);
}

/**
 * The transposed class block Bᵀ (pixels × rows) of one group's K_c: row r = f·|taps| + t (filter f of the group, the
 * class's tap t) holds δz[f, u, v] at the pixel (u s_h + a d_h − p_t, v s_w + b' d_w − p_l). `gg` is the group
 * geometry (its output channels are the group's filters) and `dz` that group's output gradient.
 */
export function gradientClassBlockTransposed(gg: ConvGeometry, cls: ResidueClass, dz: Float64Array, rows: AxisMap, cols: AxisMap): DenseMatrix {
  const npx = cls.pixels.length;
  const nrows = gg.outChannels * cls.taps.length;
  const Bt: DenseMatrix = { rows: npx, cols: nrows, data: new Float64Array(npx * nrows) };
  if (npx === 0 || nrows === 0) return Bt;
  const Wd = gg.width;
  const Ho = gg.outHeight;
  const Wo = gg.outWidth;
  const colOf = new Int32Array(gg.height * Wd); // pixel → position within the class
  cls.pixels.forEach((p, q) => (colOf[p] = q));
  let r = 0;
  for (let f = 0; f < gg.outChannels; f++) {
    for (const { a, b } of cls.taps) {
      const offA = a * gg.dilations[0] - gg.pads[0];
      const offB = b * gg.dilations[1] - gg.pads[1];
      for (let u = rows.uLo[a]; u < rows.uHi[a]; u++) {
        const i = u * gg.strides[0] + offA;
        for (let v = cols.uLo[b]; v < cols.uHi[b]; v++) {
          const j = v * gg.strides[1] + offB;
          Bt.data[colOf[i * Wd + j] * nrows + r] = dz[(f * Ho + u) * Wo + v];
        }
      }
      r++;
    }
  }
  return Bt;
}
