// Householder QR of a tall matrix that arrives one column at a time: M = Q R with the columns in arrival order (no
// pivoting), left-looking and blocked (compact WY, LAPACK's dlarft/dlarfb in spirit): each panel of `block` columns
// is brought up to date by every earlier panel with two register-blocked products, then factored column by column.
// The identifiability rank (src/engine/identifiability) streams Jacobian products into it; ≈ 2 G multiply-adds/s in
// V8, n·k² − k³/3 of them for n rows and k ≤ n columns.

/** The R factor's columns and the reflectors, as far as the columns added so far go. */
export class StreamingQr {
  /** Column j of R: its first min(j + 1, rows) entries (R_jj last when j < rows). */
  readonly rColumns: Float64Array[] = [];
  /** Reflector j (I − τ_j v_j v_jᵀ): length `rows`, zero above j, v_j[j] = 1. */
  private readonly reflectors: Float64Array[] = [];
  private readonly taus: number[] = [];
  /** Factored panels: reflectors [start, start + count) and their compact-WY T (count×count, upper, row-major). */
  private readonly panels: { start: number; count: number; T: Float64Array }[] = [];
  private pending: Float64Array[] = [];

  constructor(
    readonly rows: number,
    private readonly block = 32,
  ) {
    if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`StreamingQr: ${rows} rows`);
  }

  /** Columns added so far (factored or pending). */
  get columns(): number {
    return this.rColumns.length + this.pending.length;
  }

  /** Adds a column (copied); it is factored with its panel. */
  add(column: ArrayLike<number>): void {
    if (column.length !== this.rows) throw new RangeError(`StreamingQr: a column of ${column.length} values for ${this.rows} rows`);
    this.pending.push(Float64Array.from(column));
    if (this.pending.length === this.block) this.flush();
  }

  /** Factors the columns still pending; afterwards `rColumns` holds every column added. */
  flush(): void {
    if (this.pending.length === 0) return;
    const panel = this.pending;
    this.pending = [];
    const first = this.rColumns.length;
    for (const p of this.panels) this.applyPanel(p, panel);
    this.factorPanel(first, panel);
  }

  /** |R_jj| for every factored column j < rows. */
  diagonal(): Float64Array {
    const count = Math.min(this.rColumns.length, this.rows);
    const d = new Float64Array(count);
    for (let j = 0; j < count; j++) d[j] = Math.abs(this.rColumns[j][j]);
    return d;
  }

  /** B ← Q_pᵀ B for the reflectors of a panel: B −= V (Tᵀ (Vᵀ B)). */
  private applyPanel({ start, count, T }: { start: number; count: number; T: Float64Array }, B: Float64Array[]): void {
    const V = this.reflectors.slice(start, start + count);
    const W = projectOnto(V, B, start, this.rows);
    const nb = B.length;
    // W ← Tᵀ W (T upper triangular): row i of the result uses T[l][i] for l ≤ i, so go from the last row up.
    for (let i = count - 1; i >= 0; i--) {
      for (let c = 0; c < nb; c++) {
        let s = 0;
        for (let l = 0; l <= i; l++) s += T[l * count + i] * W[l * nb + c];
        W[i * nb + c] = s;
      }
    }
    subtractProduct(V, W, B, start, this.rows);
  }

  /** Householder QR of the panel's columns (already up to date with earlier panels), and the panel's T. */
  private factorPanel(first: number, panel: Float64Array[]): void {
    const n = this.rows;
    for (let c = 0; c < panel.length; c++) {
      const j = first + c;
      const x = panel[c];
      // earlier reflectors of this panel
      for (let l = 0; l < c && first + l < n; l++) applyReflector(this.reflectors[first + l], this.taus[first + l], x, first + l, n);
      if (j >= n) {
        this.rColumns.push(x);
        continue;
      }
      const { beta, tau } = householder(x, j, n);
      const v = new Float64Array(n);
      v[j] = 1;
      for (let t = j + 1; t < n; t++) v[t] = x[t];
      const r = x.slice(0, j + 1);
      r[j] = beta;
      this.reflectors.push(v);
      this.taus.push(tau);
      this.rColumns.push(r);
    }
    // T of the panel (only the reflectors it created), forward columnwise: T_ii = τ_i, T[:i, i] = −τ_i T[:i, :i] V[:, :i]ᵀ v_i.
    const made = Math.max(0, Math.min(panel.length, n - first));
    if (made === 0) return;
    const b = made;
    const T = new Float64Array(b * b);
    for (let i = 0; i < made; i++) {
      const tau = this.taus[first + i];
      T[i * b + i] = tau;
      if (i === 0) continue;
      const vi = this.reflectors[first + i];
      const z = new Float64Array(i);
      for (let l = 0; l < i; l++) {
        const vl = this.reflectors[first + l];
        let s = 0;
        for (let t = first + i; t < n; t++) s += vl[t] * vi[t];
        z[l] = -tau * s;
      }
      for (let l = 0; l < i; l++) {
        let s = 0;
        for (let m = l; m < i; m++) s += T[l * b + m] * z[m];
        T[l * b + i] = s;
      }
    }
    this.panels.push({ start: first, count: made, T });
  }
}

/** x[j..n) ← (I − τ v vᵀ) x[j..n) for a reflector v starting at j. */
function applyReflector(v: Float64Array, tau: number, x: Float64Array, j: number, n: number): void {
  if (tau === 0) return;
  let s = 0;
  for (let t = j; t < n; t++) s += v[t] * x[t];
  s *= tau;
  if (s === 0) return;
  for (let t = j; t < n; t++) x[t] -= s * v[t];
}

/**
 * The Householder reflector that maps x[j..n) to β e_j (LAPACK dlarfg, with a scaled norm): v is left in x[j+1..n)
 * (v_j = 1 implicit), β = −sign(x_j)·‖x[j..n)‖, τ = (β − x_j)/β; τ = 0 when x[j+1..n) is zero.
 */
function householder(x: Float64Array, j: number, n: number): { beta: number; tau: number } {
  const alpha = x[j];
  let scale = 0;
  for (let t = j + 1; t < n; t++) scale = Math.max(scale, Math.abs(x[t]));
  if (scale === 0) return { beta: alpha, tau: 0 };
  let ssq = 0;
  for (let t = j + 1; t < n; t++) {
    const s = x[t] / scale;
    ssq += s * s;
  }
  const xnorm = scale * Math.sqrt(ssq);
  const beta = -(alpha >= 0 ? 1 : -1) * Math.hypot(alpha, xnorm);
  const inv = 1 / (alpha - beta);
  for (let t = j + 1; t < n; t++) x[t] *= inv;
  return { beta, tau: (beta - alpha) / beta };
}

/** W = Vᵀ B over rows [start, n): W[i·nb + c] = Σ_t V[i][t] B[c][t], four reflectors by four columns at a time. */
function projectOnto(V: Float64Array[], B: Float64Array[], start: number, n: number): Float64Array {
  const nv = V.length;
  const nb = B.length;
  const W = new Float64Array(nv * nb);
  let i = 0;
  for (; i + 4 <= nv; i += 4) {
    const v0 = V[i];
    const v1 = V[i + 1];
    const v2 = V[i + 2];
    const v3 = V[i + 3];
    let c = 0;
    for (; c + 4 <= nb; c += 4) {
      const b0 = B[c];
      const b1 = B[c + 1];
      const b2 = B[c + 2];
      const b3 = B[c + 3];
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0; // prettier-ignore
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0; // prettier-ignore
      for (let t = start; t < n; t++) {
        const x0 = v0[t];
        const x1 = v1[t];
        const x2 = v2[t];
        const x3 = v3[t];
        const y0 = b0[t];
        const y1 = b1[t];
        const y2 = b2[t];
        const y3 = b3[t];
        s00 += x0 * y0;
        s01 += x0 * y1;
        s02 += x0 * y2;
        s03 += x0 * y3;
        s10 += x1 * y0;
        s11 += x1 * y1;
        s12 += x1 * y2;
        s13 += x1 * y3;
        s20 += x2 * y0;
        s21 += x2 * y1;
        s22 += x2 * y2;
        s23 += x2 * y3;
        s30 += x3 * y0;
        s31 += x3 * y1;
        s32 += x3 * y2;
        s33 += x3 * y3;
      }
      const r0 = i * nb + c;
      const r1 = r0 + nb;
      const r2 = r1 + nb;
      const r3 = r2 + nb;
      W[r0] = s00;
      W[r0 + 1] = s01;
      W[r0 + 2] = s02;
      W[r0 + 3] = s03;
      W[r1] = s10;
      W[r1 + 1] = s11;
      W[r1 + 2] = s12;
      W[r1 + 3] = s13;
      W[r2] = s20;
      W[r2 + 1] = s21;
      W[r2 + 2] = s22;
      W[r2 + 3] = s23;
      W[r3] = s30;
      W[r3 + 1] = s31;
      W[r3 + 2] = s32;
      W[r3 + 3] = s33;
    }
    for (; c < nb; c++) for (let l = i; l < i + 4; l++) W[l * nb + c] = dotFrom(V[l], B[c], start, n);
  }
  for (; i < nv; i++) for (let c = 0; c < nb; c++) W[i * nb + c] = dotFrom(V[i], B[c], start, n);
  return W;
}

/** B[c][t] −= Σ_i V[i][t] W[i·nb + c] over rows [start, n), four reflectors by four columns at a time. */
function subtractProduct(V: Float64Array[], W: Float64Array, B: Float64Array[], start: number, n: number): void {
  const nv = V.length;
  const nb = B.length;
  let i = 0;
  for (; i + 4 <= nv; i += 4) {
    const v0 = V[i];
    const v1 = V[i + 1];
    const v2 = V[i + 2];
    const v3 = V[i + 3];
    let c = 0;
    for (; c + 4 <= nb; c += 4) {
      const b0 = B[c];
      const b1 = B[c + 1];
      const b2 = B[c + 2];
      const b3 = B[c + 3];
      const r0 = i * nb + c;
      const r1 = r0 + nb;
      const r2 = r1 + nb;
      const r3 = r2 + nb;
      const w00 = W[r0], w01 = W[r0 + 1], w02 = W[r0 + 2], w03 = W[r0 + 3]; // prettier-ignore
      const w10 = W[r1], w11 = W[r1 + 1], w12 = W[r1 + 2], w13 = W[r1 + 3]; // prettier-ignore
      const w20 = W[r2], w21 = W[r2 + 1], w22 = W[r2 + 2], w23 = W[r2 + 3]; // prettier-ignore
      const w30 = W[r3], w31 = W[r3 + 1], w32 = W[r3 + 2], w33 = W[r3 + 3]; // prettier-ignore
      for (let t = start; t < n; t++) {
        const x0 = v0[t];
        const x1 = v1[t];
        const x2 = v2[t];
        const x3 = v3[t];
        b0[t] -= x0 * w00 + x1 * w10 + x2 * w20 + x3 * w30;
        b1[t] -= x0 * w01 + x1 * w11 + x2 * w21 + x3 * w31;
        b2[t] -= x0 * w02 + x1 * w12 + x2 * w22 + x3 * w32;
        b3[t] -= x0 * w03 + x1 * w13 + x2 * w23 + x3 * w33;
      }
    }
    for (; c < nb; c++) for (let l = i; l < i + 4; l++) axpyFrom(-W[l * nb + c], V[l], B[c], start, n);
  }
  for (; i < nv; i++) for (let c = 0; c < nb; c++) axpyFrom(-W[i * nb + c], V[i], B[c], start, n);
}

function dotFrom(x: Float64Array, y: Float64Array, start: number, n: number): number {
  let s = 0;
  for (let t = start; t < n; t++) s += x[t] * y[t];
  return s;
}

function axpyFrom(a: number, x: Float64Array, y: Float64Array, start: number, n: number): void {
  if (a === 0) return;
  for (let t = start; t < n; t++) y[t] += a * x[t];
}
