// The work budget of one layer's rank computation and the cost formulas charged against it.

/** Below this estimated cost, 'auto' takes the explicit dense path (QRCP of U). */
export const DEFAULT_DENSE_THRESHOLD = 2e8;
/** Power iterations and relative tolerance of every σ_max estimate. */
export const NORM_ITERATIONS = 40;
export const NORM_REL_TOL = 1e-3;
/** QRCP flops are charged ×3 against the budget: the unblocked QRCP runs at ~1/3 of the blocked elimination's speed. */
export const QRCP_CHARGE = 3;

export class Budget {
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

export function qrcpFlops(m: number, n: number): number {
  const r = Math.min(m, n);
  return 4 * m * n * r - 2 * (m + n) * r * r + (4 / 3) * r * r * r;
}

export function geFlops(m: number, n: number): number {
  const s = Math.min(m, n);
  const l = Math.max(m, n);
  return s * s * l - (s * s * s) / 3;
}

/** A flop or byte count for notes (e.g. 1.2e9). */
export function formatCount(x: number): string {
  if (x >= 1e9) return `${(x / 1e9).toFixed(1)}e9`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(1)}e6`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}e3`;
  return String(Math.round(x));
}
