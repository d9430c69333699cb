// The forward rows of W_op that enter the layer system (all, or the active units of a ReLU layer, docs/algorithm.md §5.5).
import type { ConvGeometry } from '../../numerics/convGeometry';
import type { ActivationLayout } from '../../numerics/convOperators';
import type { DenseMatrix } from '../../numerics/dense';
import type { LinearOperator } from '../../numerics/linearOperator';
import type { Csr } from '../../numerics/sparse';

/**
 * The forward rows of W_op that enter U: all of them, or the units marked in `activeOutputs` (NCHW). Every
 * representation of the kept W_op is taken from here: CSR rows in either layout of ConvOperator.forwardCsr, dense
 * rows, gathered output vectors (W_op·N_K) and the matrix-free operator (norm estimates). A fully connected layer
 * is one group of `filters` outputs of size 1×1.
 */
export class ForwardRows {
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
    this.kept = this.perGroup.reduce((a, b) => a + b, 0);
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
