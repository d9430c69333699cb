// Average and max pooling over precomputed windows.
import { Op, type AdjointState, type RunState } from './op';

/** Pooling windows as a CSR list: output k reads inputs index[start[k] .. start[k+1]). */
export interface Windows {
  start: Int32Array;
  index: Int32Array;
}

/** Average pooling: y_k = w_k Σ_{j ∈ window k} x_j (w_k = 1/divisor). */
export class AvgPoolOp extends Op {
  readonly kind = 'avgPool' as const;
  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly windows: Windows,
    readonly weight: Float64Array,
  ) {
    super(nodeId, [input], output, weight.length);
  }
  forward(s: RunState): void {
    const x = s.values[this.inputs[0]];
    const y = s.values[this.output];
    const { start, index } = this.windows;
    for (let k = 0; k < y.length; k++) {
      let sum = 0;
      for (let p = start[k]; p < start[k + 1]; p++) sum += x[index[p]];
      y[k] = sum * this.weight[k];
    }
  }
  backward(s: RunState, need: Uint8Array): void {
    const xi = this.inputs[0];
    if (!need[xi]) return;
    const dy = s.deltas[this.output];
    const dx = s.deltas[xi];
    const { start, index } = this.windows;
    for (let k = 0; k < dy.length; k++) {
      const v = dy[k] * this.weight[k];
      for (let p = start[k]; p < start[k + 1]; p++) dx[index[p]] += v;
    }
  }
  adjointBackward(_s: RunState, a: AdjointState): void {
    const dbx = a.dbar[this.inputs[0]];
    const dby = a.dbar[this.output];
    const { start, index } = this.windows;
    for (let k = 0; k < dby.length; k++) {
      let sum = 0;
      for (let p = start[k]; p < start[k + 1]; p++) sum += dbx[index[p]];
      dby[k] += sum * this.weight[k];
    }
  }
}

/** Max pooling; the forward pass records the winning input of each window (first maximum, as frameworks do). */
export class MaxPoolOp extends Op {
  readonly kind = 'maxPool' as const;
  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly windows: Windows,
  ) {
    super(nodeId, [input], output, windows.start.length - 1);
  }
  forward(s: RunState): void {
    const x = s.values[this.inputs[0]];
    const y = s.values[this.output];
    const { start, index } = this.windows;
    const argmax = (s.aux[this.index] ??= new Int32Array(y.length));
    for (let k = 0; k < y.length; k++) {
      let best = -Infinity;
      let at = -1;
      for (let p = start[k]; p < start[k + 1]; p++) {
        const v = x[index[p]];
        if (v > best || at < 0) {
          best = v;
          at = index[p];
        }
      }
      y[k] = best;
      argmax[k] = at;
    }
  }
  backward(s: RunState, need: Uint8Array): void {
    const xi = this.inputs[0];
    if (!need[xi]) return;
    const argmax = s.aux[this.index]!;
    const dy = s.deltas[this.output];
    const dx = s.deltas[xi];
    for (let k = 0; k < dy.length; k++) if (argmax[k] >= 0) dx[argmax[k]] += dy[k];
  }
  adjointBackward(s: RunState, a: AdjointState): void {
    // The routing is piecewise constant in x: no primal term.
    const argmax = s.aux[this.index]!;
    const dbx = a.dbar[this.inputs[0]];
    const dby = a.dbar[this.output];
    for (let k = 0; k < dby.length; k++) if (argmax[k] >= 0) dby[k] += dbx[argmax[k]];
  }
}
