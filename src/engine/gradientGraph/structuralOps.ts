// Layers without parameters whose Jacobian does not depend on the values they move (except max pooling's routing,
// which is piecewise constant): reshapes, transposes, padding, sums of branches, concatenation and pooling. Their
// `tangent` is the layer itself applied to the tangent, and they have no curvature term.
import { GradientOp } from './gradientOp';
import { sizeOfShape, type GraphWriter, type Value } from './onnxWriter';

/** Flatten, reshape, dropout, identity, a trailing softmax: the same values in another shape. */
export class ReshapeOp extends GradientOp {
  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly inShape: number[],
    readonly outShape: number[],
  ) {
    super(nodeId, [input], output);
  }
  forward(w: GraphWriter, [x]: Value[]): Value {
    return w.reshape(x, this.outShape);
  }
  backward(w: GraphWriter, dy: Value, need: boolean[]): (Value | undefined)[] {
    return [need[0] ? w.reshape(dy, this.inShape) : undefined];
  }
  tangent(w: GraphWriter, [dx]: (Value | undefined)[]): Value | undefined {
    return dx && w.reshape(dx, this.outShape);
  }
}

export class TransposeOp extends GradientOp {
  private readonly inverse: number[];
  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly perm: number[],
  ) {
    super(nodeId, [input], output);
    this.inverse = new Array<number>(perm.length);
    perm.forEach((p, i) => (this.inverse[p] = i));
  }
  forward(w: GraphWriter, [x]: Value[]): Value {
    return w.transpose(x, this.perm);
  }
  backward(w: GraphWriter, dy: Value, need: boolean[]): (Value | undefined)[] {
    return [need[0] ? w.transpose(dy, this.inverse) : undefined];
  }
  tangent(w: GraphWriter, [dx]: (Value | undefined)[]): Value | undefined {
    return dx && w.transpose(dx, this.perm);
  }
}

/** 2-D padding of an NCHW tensor; constant (any fill value), reflect or edge. */
export class PadOp extends GradientOp {
  private readonly onnxPads: number[];
  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly inShape: number[],
    /** [top, left, bottom, right], non-negative. */
    readonly pads: [number, number, number, number],
    readonly mode: 'constant' | 'reflect' | 'edge',
    readonly fill: number,
  ) {
    super(nodeId, [input], output);
    const [t, l, b, r] = pads;
    this.onnxPads = [0, 0, t, l, 0, 0, b, r];
  }
  private outShape(): number[] {
    const [n, c, h, w] = this.inShape;
    const [t, l, b, r] = this.pads;
    return [n, c, h + t + b, w + l + r];
  }
  forward(w: GraphWriter, [x]: Value[]): Value {
    const fill = this.mode === 'constant' ? w.scalar(this.fill) : undefined;
    return w.op('Pad', [x, w.ints(this.onnxPads), fill], this.outShape(), { mode: this.mode });
  }
  backward(w: GraphWriter, dy: Value, need: boolean[]): (Value | undefined)[] {
    if (!need[0]) return [undefined];
    const [, , h, wd] = this.inShape;
    const [t, l] = this.pads;
    if (this.mode === 'constant') return [w.slice(dy, [t, l], [t + h, l + wd], [2, 3])];
    // Reflect/edge: every output element comes from one input element; add them back where they came from.
    const index = w.ints(padSourceIndex(this.inShape, this.pads, this.mode));
    const flat = w.reshape(dy, [sizeOfShape(dy.shape)]);
    const dx = w.op('ScatterElements', [w.zeros([sizeOfShape(this.inShape)]), index, flat], [sizeOfShape(this.inShape)], { axis: 0, reduction: 'add' });
    return [w.reshape(dx, this.inShape)];
  }
  tangent(w: GraphWriter, [dx]: (Value | undefined)[]): Value | undefined {
    return dx && w.op('Pad', [dx, w.ints(this.onnxPads)], this.outShape(), { mode: this.mode });
  }
}

/** Flat input index of every element of a reflect/edge-padded NCHW tensor. */
function padSourceIndex(shape: number[], [pt, pl, pb, pr]: [number, number, number, number], mode: 'reflect' | 'edge'): number[] {
  const [n, c, h, w] = shape;
  const map = (i: number, size: number): number => {
    if (i >= 0 && i < size) return i;
    if (mode === 'edge' || size === 1) return Math.min(size - 1, Math.max(0, i));
    const period = 2 * (size - 1);
    let r = ((i % period) + period) % period;
    if (r >= size) r = period - r;
    return r;
  };
  const out: number[] = [];
  for (let b = 0; b < n * c; b++) {
    for (let i = 0; i < h + pt + pb; i++) {
      const si = map(i - pt, h);
      for (let j = 0; j < w + pl + pr; j++) out.push((b * h + si) * w + map(j - pl, w));
    }
  }
  return out;
}

/** y = Σ sign_i x_i (residual additions; subtraction of two branches). */
export class SumOp extends GradientOp {
  constructor(
    nodeId: string,
    inputs: number[],
    output: number,
    readonly signs: number[],
  ) {
    super(nodeId, inputs, output);
  }
  private combine(w: GraphWriter, values: (Value | undefined)[]): Value | undefined {
    const plus = w.sum(values.filter((_, i) => this.signs[i] > 0));
    const minus = w.sum(values.filter((_, i) => this.signs[i] < 0));
    if (!minus) return plus;
    return plus ? w.sub(plus, minus) : w.neg(minus);
  }
  forward(w: GraphWriter, x: Value[]): Value {
    return this.combine(w, x)!;
  }
  backward(w: GraphWriter, dy: Value, need: boolean[]): (Value | undefined)[] {
    let negated: Value | undefined;
    return this.signs.map((sign, i) => (!need[i] ? undefined : sign > 0 ? dy : (negated ??= w.neg(dy))));
  }
  tangent(w: GraphWriter, dx: (Value | undefined)[]): Value | undefined {
    return this.combine(w, dx);
  }
}

export class ConcatOp extends GradientOp {
  constructor(
    nodeId: string,
    inputs: number[],
    output: number,
    readonly axis: number,
    readonly inShapes: number[][],
    readonly outShape: number[],
  ) {
    super(nodeId, inputs, output);
  }
  forward(w: GraphWriter, x: Value[]): Value {
    return w.op('Concat', x, this.outShape, { axis: this.axis });
  }
  backward(w: GraphWriter, dy: Value, need: boolean[]): (Value | undefined)[] {
    if (!need.some(Boolean)) return this.inputs.map(() => undefined);
    const sizes = this.inShapes.map((s) => s[this.axis]);
    const parts = w.opMulti(
      'Split',
      [dy, w.ints(sizes)],
      this.inShapes.map((shape) => ({ shape })),
      { axis: this.axis },
    );
    return parts.map((p, i) => (need[i] ? p : undefined));
  }
  tangent(w: GraphWriter, dx: (Value | undefined)[]): Value | undefined {
    if (dx.every((v) => v === undefined)) return undefined;
    return w.op(
      'Concat',
      dx.map((v, i) => v ?? w.zeros(this.inShapes[i])),
      this.outShape,
      { axis: this.axis },
    );
  }
}

/** Window geometry of a 2-D pooling node (global pooling: one window over the whole map). */
export interface PoolWindow {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** [top, left, bottom, right]. */
  pads: [number, number, number, number];
  ceilMode: boolean;
  countIncludePad: boolean;
}

/**
 * Max pooling. The forward pass keeps onnxruntime's argmax indices (flat over the whole input); the backward pass
 * scatters δy to them, the tangent gathers from them.
 */
export class MaxPoolOp extends GradientOp {
  private indices!: Value;
  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly inShape: number[],
    readonly outShape: number[],
    readonly window: PoolWindow,
  ) {
    super(nodeId, [input], output);
  }
  forward(w: GraphWriter, [x]: Value[]): Value {
    const shape = [1, this.inShape[1], ...this.pooledSize()];
    const { kernel, strides, dilations, pads, ceilMode } = this.window;
    const [y, indices] = w.opMulti('MaxPool', [x], [{ shape }, { shape, type: 'int64' }], {
      kernel_shape: kernel,
      strides,
      dilations,
      pads,
      ceil_mode: ceilMode ? 1 : 0,
    });
    this.indices = w.reshape(indices, [sizeOfShape(shape)]);
    return w.reshape(y, this.outShape);
  }
  /** [H_o, W_o] (global pooling may give [N, C] in the IR). */
  private pooledSize(): [number, number] {
    if (this.outShape.length === 4) return [this.outShape[2], this.outShape[3]];
    if (sizeOfShape(this.outShape) !== this.inShape[1]) throw new Error(`${this.nodeId}: pooled output [${this.outShape.join(', ')}] is not NCHW`);
    return [1, 1];
  }
  backward(w: GraphWriter, dy: Value, need: boolean[]): (Value | undefined)[] {
    if (!need[0]) return [undefined];
    const n = sizeOfShape(this.inShape);
    const { kernel, strides, dilations } = this.window;
    // Windows that never overlap route each input to at most one output: no reduction needed.
    const overlapping = kernel.some((k, i) => (k - 1) * dilations[i] + 1 > strides[i]);
    const flat = w.reshape(dy, [sizeOfShape(dy.shape)]);
    const attributes: Record<string, number | string> = overlapping ? { axis: 0, reduction: 'add' } : { axis: 0 };
    const dx = w.op('ScatterElements', [w.zeros([n]), this.indices, flat], [n], attributes);
    return [w.reshape(dx, this.inShape)];
  }
  tangent(w: GraphWriter, [dx]: (Value | undefined)[]): Value | undefined {
    if (!dx) return undefined;
    const gathered = w.op('Gather', [w.reshape(dx, [sizeOfShape(dx.shape)]), this.indices], this.indices.shape, { axis: 0 });
    return w.reshape(gathered, this.outShape);
  }
}

/**
 * Average pooling as a depthwise convolution with a kernel of ones followed by a per-output weight (1/divisor):
 * exact for every divisor rule (count_include_pad or not, ceil mode, dilations), and its transpose is the matching
 * ConvTranspose.
 */
export class AvgPoolOp extends GradientOp {
  private ones!: Value;
  private weights!: Value;
  private readonly convPads: [number, number, number, number];
  private readonly outputPadding: [number, number];
  private readonly pooled: [number, number];
  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly inShape: number[],
    readonly outShape: number[],
    readonly window: PoolWindow,
  ) {
    super(nodeId, [input], output);
    const [, c, h, wd] = inShape;
    const ho = outShape.length === 4 ? outShape[2] : 1;
    const wo = outShape.length === 4 ? outShape[3] : 1;
    if (sizeOfShape(outShape) !== c * ho * wo) throw new Error(`${nodeId}: pooled output [${outShape.join(', ')}] is not NCHW`);
    this.pooled = [ho, wo];
    const { kernel, strides, dilations, pads } = window;
    // Ceil mode: extend the end padding (with zeros, which add nothing) until the last window fits.
    const end = [0, 1].map((a) => Math.max(pads[a + 2], strides[a] * ([ho, wo][a] - 1) + dilations[a] * (kernel[a] - 1) + 1 - [h, wd][a] - pads[a]));
    this.convPads = [pads[0], pads[1], end[0], end[1]];
    this.outputPadding = [0, 1].map((a) => {
      const span = [h, wd][a] + pads[a] + end[a] - dilations[a] * (kernel[a] - 1) - 1;
      return span - strides[a] * ([ho, wo][a] - 1);
    }) as [number, number];
  }
  private attributes(): Record<string, readonly number[] | number> {
    const { kernel, strides, dilations } = this.window;
    return { kernel_shape: kernel, strides, dilations, pads: this.convPads, group: this.inShape[1] };
  }
  private pool(w: GraphWriter, x: Value): Value {
    const [, c] = this.inShape;
    const sums = w.op('Conv', [x, this.ones], [1, c, ...this.pooled], this.attributes());
    return w.reshape(w.mul(sums, this.weights), this.outShape);
  }
  forward(w: GraphWriter, [x]: Value[]): Value {
    const [, c, h, wd] = this.inShape;
    const { kernel } = this.window;
    this.ones = w.weight(new Float32Array(c * kernel[0] * kernel[1]).fill(1), [c, 1, kernel[0], kernel[1]], `${this.nodeId}_ones`);
    this.weights = w.weight(averageWeights([h, wd], this.pooled, this.window), [1, 1, ...this.pooled], `${this.nodeId}_divisors`);
    return this.pool(w, x);
  }
  backward(w: GraphWriter, dy: Value, need: boolean[]): (Value | undefined)[] {
    if (!need[0]) return [undefined];
    const [, c] = this.inShape;
    const weighted = w.mul(w.reshape(dy, [1, c, ...this.pooled]), this.weights);
    const dx = w.op('ConvTranspose', [weighted, this.ones], [1, c, this.inShape[2], this.inShape[3]], {
      ...this.attributes(),
      output_padding: this.outputPadding,
    });
    return [dx];
  }
  tangent(w: GraphWriter, [dx]: (Value | undefined)[]): Value | undefined {
    return dx && this.pool(w, dx);
  }
}

/** 1/divisor of every output window (the same for every channel), as the float64 network counts it. */
function averageWeights([h, w]: [number, number], [ho, wo]: [number, number], window: PoolWindow): Float32Array {
  const { kernel, strides, dilations, pads, countIncludePad } = window;
  const counts = (axis: 0 | 1, out: number, size: number) => {
    const real: number[] = [];
    const padded: number[] = [];
    for (let u = 0; u < out; u++) {
      let r = 0;
      let p = 0;
      for (let a = 0; a < kernel[axis]; a++) {
        const i = u * strides[axis] + a * dilations[axis] - pads[axis];
        if (i >= -pads[axis] && i < size + pads[axis + 2]) p++;
        if (i >= 0 && i < size) r++;
      }
      real.push(r);
      padded.push(p);
    }
    return { real, padded };
  };
  const rows = counts(0, ho, h);
  const cols = counts(1, wo, w);
  const out = new Float32Array(ho * wo);
  for (let u = 0; u < ho; u++) {
    for (let v = 0; v < wo; v++) {
      const divisor = countIncludePad ? rows.padded[u] * cols.padded[v] : rows.real[u] * cols.real[v];
      out[u * wo + v] = 1 / Math.max(1, divisor);
    }
  }
  return out;
}

/** Global average pooling: the mean over H×W per channel. */
export class GlobalAvgPoolOp extends GradientOp {
  private spread?: Value;
  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly inShape: number[],
    readonly outShape: number[],
  ) {
    super(nodeId, [input], output);
  }
  private pool(w: GraphWriter, x: Value): Value {
    const [n, c] = this.inShape;
    return w.reshape(w.op('GlobalAveragePool', [x], [n, c, 1, 1]), this.outShape);
  }
  forward(w: GraphWriter, [x]: Value[]): Value {
    return this.pool(w, x);
  }
  backward(w: GraphWriter, dy: Value, need: boolean[]): (Value | undefined)[] {
    if (!need[0]) return [undefined];
    const [n, c, h, wd] = this.inShape;
    this.spread ??= w.weight(new Float32Array(h * wd).fill(1 / (h * wd)), [1, 1, h, wd], `${this.nodeId}_spread`);
    return [w.mul(w.reshape(dy, [n, c, 1, 1]), this.spread)];
  }
  tangent(w: GraphWriter, [dx]: (Value | undefined)[]): Value | undefined {
    return dx && this.pool(w, dx);
  }
}
