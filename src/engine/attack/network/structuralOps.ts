// Ops that move or combine values without weights: identity (flatten, reshape, ...), gathers (transpose, pad), sums of
// branches and concatenation.
import { Op, addInto, type AdjointState, type RunState } from './op';

/** y = x on the flat vector (flatten, reshape, dropout, identity, a trailing softmax). */
export class IdentityOp extends Op {
  readonly kind = 'identity' as const;
  forward(s: RunState): void {
    s.values[this.output].set(s.values[this.inputs[0]]);
  }
  backward(s: RunState, need: Uint8Array): void {
    const xi = this.inputs[0];
    if (need[xi]) addInto(s.deltas[xi], s.deltas[this.output]);
  }
  adjointBackward(_s: RunState, a: AdjointState): void {
    addInto(a.dbar[this.output], a.dbar[this.inputs[0]]);
  }
}

/** y_k = x[source_k], or `fill` where source_k < 0 (transpose, pad). */
export class GatherOp extends Op {
  readonly kind = 'gather' as const;
  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly source: Int32Array,
    readonly fill: number,
  ) {
    super(nodeId, [input], output, source.length);
  }
  forward(s: RunState): void {
    const x = s.values[this.inputs[0]];
    const y = s.values[this.output];
    for (let k = 0; k < y.length; k++) {
      const j = this.source[k];
      y[k] = j >= 0 ? x[j] : this.fill;
    }
  }
  backward(s: RunState, need: Uint8Array): void {
    const xi = this.inputs[0];
    if (!need[xi]) return;
    const dy = s.deltas[this.output];
    const dx = s.deltas[xi];
    for (let k = 0; k < dy.length; k++) {
      const j = this.source[k];
      if (j >= 0) dx[j] += dy[k];
    }
  }
  adjointBackward(_s: RunState, a: AdjointState): void {
    const dbx = a.dbar[this.inputs[0]];
    const dby = a.dbar[this.output];
    for (let k = 0; k < dby.length; k++) {
      const j = this.source[k];
      if (j >= 0) dby[k] += dbx[j];
    }
  }
}

/** y = Σ_i sign_i x_i (residual additions, subtraction of two branches). */
export class SumOp extends Op {
  readonly kind = 'sum' as const;
  constructor(
    nodeId: string,
    inputs: number[],
    output: number,
    size: number,
    readonly signs: number[],
  ) {
    super(nodeId, inputs, output, size);
  }
  forward(s: RunState): void {
    const y = s.values[this.output];
    y.fill(0);
    this.inputs.forEach((slot, i) => {
      const x = s.values[slot];
      const sign = this.signs[i];
      for (let k = 0; k < y.length; k++) y[k] += sign * x[k];
    });
  }
  backward(s: RunState, need: Uint8Array): void {
    const dy = s.deltas[this.output];
    this.inputs.forEach((slot, i) => {
      if (!need[slot]) return;
      const dx = s.deltas[slot];
      const sign = this.signs[i];
      for (let k = 0; k < dy.length; k++) dx[k] += sign * dy[k];
    });
  }
  adjointBackward(_s: RunState, a: AdjointState): void {
    const dby = a.dbar[this.output];
    this.inputs.forEach((slot, i) => {
      const dbx = a.dbar[slot];
      const sign = this.signs[i];
      for (let k = 0; k < dby.length; k++) dby[k] += sign * dbx[k];
    });
  }
}

/** Concatenation along one axis: for each of `outer` blocks, input i contributes `inner[i]` contiguous entries. */
export class ConcatOp extends Op {
  readonly kind = 'concat' as const;
  constructor(
    nodeId: string,
    inputs: number[],
    output: number,
    size: number,
    readonly outer: number,
    readonly inner: number[],
  ) {
    super(nodeId, inputs, output, size);
  }
  private each(visit: (input: number, from: number, to: number, length: number) => void): void {
    const total = this.inner.reduce((a, b) => a + b, 0);
    for (let o = 0; o < this.outer; o++) {
      let offset = o * total;
      for (let i = 0; i < this.inputs.length; i++) {
        const n = this.inner[i];
        visit(i, o * n, offset, n);
        offset += n;
      }
    }
  }
  forward(s: RunState): void {
    const y = s.values[this.output];
    this.each((i, from, to, n) => y.set(s.values[this.inputs[i]].subarray(from, from + n), to));
  }
  backward(s: RunState, need: Uint8Array): void {
    const dy = s.deltas[this.output];
    this.each((i, from, to, n) => {
      const slot = this.inputs[i];
      if (!need[slot]) return;
      const dx = s.deltas[slot];
      for (let k = 0; k < n; k++) dx[from + k] += dy[to + k];
    });
  }
  adjointBackward(_s: RunState, a: AdjointState): void {
    const dby = a.dbar[this.output];
    this.each((i, from, to, n) => {
      const dbx = a.dbar[this.inputs[i]];
      for (let k = 0; k < n; k++) dby[to + k] += dbx[from + k];
    });
  }
}
