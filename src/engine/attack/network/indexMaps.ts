// Index maps the plan builder precomputes from shapes and attributes: channels, broadcasting, transposes, padding and
// pooling windows (flat NCHW, batch 1).
import type { LayerNode, Shape } from '../../ir';
import { sizeOf } from '../../ir';
import type { Windows } from './poolingOps';

/** [C, H, W] of the model input (batch dropped; lower-rank inputs are C×1×1). */
export function imageShape(shape: Shape): [number, number, number] {
  if (shape.length === 4) return [shape[1], shape[2], shape[3]];
  if (shape.length === 3) return [1, shape[1], shape[2]]; // [N, H, W]: one channel
  return [sizeOf(shape.slice(1)), 1, 1];
}

/** Channel (axis 1) of every flat element of an NC… tensor. */
export function channelIndex(shape: Shape): Int32Array {
  const size = sizeOf(shape);
  const channels = shape[1] ?? 1;
  const inner = sizeOf(shape.slice(2));
  const out = new Int32Array(size);
  for (let k = 0; k < size; k++) out[k] = Math.floor(k / inner) % channels;
  return out;
}

/** For each element of `target`, the flat index into a numpy-broadcast `operand`. */
export function broadcastIndex(operand: Shape, target: Shape, fail: (why: string) => never): Int32Array {
  if (operand.length > target.length) fail(`operand [${operand.join(', ')}] does not broadcast to [${target.join(', ')}]`);
  const aligned = [...new Array<number>(target.length - operand.length).fill(1), ...operand];
  aligned.forEach((d, i) => {
    if (d !== 1 && d !== target[i]) fail(`operand [${operand.join(', ')}] does not broadcast to [${target.join(', ')}]`);
  });
  const strides = new Array<number>(aligned.length).fill(0);
  let stride = 1;
  for (let i = aligned.length - 1; i >= 0; i--) {
    strides[i] = aligned[i] === 1 ? 0 : stride;
    stride *= aligned[i];
  }
  const size = sizeOf(target);
  const out = new Int32Array(size);
  const idx = new Array<number>(target.length).fill(0);
  for (let k = 0; k < size; k++) {
    let j = 0;
    for (let i = 0; i < idx.length; i++) j += idx[i] * strides[i];
    out[k] = j;
    for (let i = idx.length - 1; i >= 0; i--) {
      if (++idx[i] < target[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

/** out[k] = in[source[k]] for a transpose of `shape` by `perm`. */
export function transposeIndex(shape: Shape, perm: number[]): Int32Array {
  const rank = shape.length;
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  const outShape = perm.map((p) => shape[p]);
  const size = sizeOf(shape);
  const out = new Int32Array(size);
  const idx = new Array<number>(rank).fill(0);
  for (let k = 0; k < size; k++) {
    let j = 0;
    for (let i = 0; i < rank; i++) j += idx[i] * inStrides[perm[i]];
    out[k] = j;
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i] < outShape[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

/** Source index of every element of a 2-D padded NCHW tensor (−1 = constant fill). */
export function padIndex(
  shape: Shape,
  pads: [number, number, number, number],
  mode: 'constant' | 'reflect' | 'edge',
  fail: (why: string) => never,
): Int32Array {
  if (shape.length !== 4) fail('padding of a tensor that is not NCHW');
  const [n, c, h, w] = shape;
  const [pt, pl, pb, pr] = pads;
  const ho = h + pt + pb;
  const wo = w + pl + pr;
  const map = (i: number, size: number): number => {
    if (i >= 0 && i < size) return i;
    if (mode === 'constant') return -1;
    if (mode === 'edge') return Math.min(size - 1, Math.max(0, i));
    if (size === 1) return 0;
    const period = 2 * (size - 1);
    let r = ((i % period) + period) % period;
    if (r >= size) r = period - r;
    return r;
  };
  const out = new Int32Array(n * c * ho * wo);
  let k = 0;
  for (let b = 0; b < n * c; b++) {
    for (let i = 0; i < ho; i++) {
      const si = map(i - pt, h);
      for (let j = 0; j < wo; j++) {
        const sj = map(j - pl, w);
        out[k++] = si < 0 || sj < 0 ? -1 : (b * h + si) * w + sj;
      }
    }
  }
  return out;
}

/**
 * Windows of a (global) average / max pooling node, and the average weights (1/divisor). Only the taps that land inside
 * the input are visited (the padded ones are counted per axis), so the work follows the input and the output, not the
 * kernel attribute; `maxEntries` bounds the window index before it is allocated.
 */
export function poolWindows(node: LayerNode, isMax: boolean, maxEntries: number, fail: (why: string) => never): { windows: Windows; weight: Float64Array } {
  const inShape = node.inputShapes[0];
  if (inShape.length !== 4) fail('pooling of a tensor that is not NCHW');
  const [, C, H, W] = inShape;
  const outShape = node.outputShapes[0];
  let kernel: [number, number] = [H, W];
  let strides: [number, number] = [1, 1];
  let dilations: [number, number] = [1, 1];
  let pads: [number, number, number, number] = [0, 0, 0, 0];
  let countIncludePad = false;
  let Ho = 1;
  let Wo = 1;
  if (node.attrs.kind === 'pool') {
    ({ kernel, strides, dilations, pads, countIncludePad } = node.attrs);
    Ho = outShape[2];
    Wo = outShape[3];
  } else if (node.op !== 'globalAvgPool' && node.op !== 'globalMaxPool') {
    fail('pooling without window attributes');
  }
  const rows = windowAxis(Ho, H, kernel[0], strides[0], dilations[0], pads[0], pads[2]);
  const cols = windowAxis(Wo, W, kernel[1], strides[1], dilations[1], pads[1], pads[3]);
  const entries = C * rows.insideTotal * cols.insideTotal;
  if (entries > maxEntries) fail(`its windows read ${entries} values, over the ${maxEntries} the network has room for`);
  const start = new Int32Array(C * Ho * Wo + 1);
  const index = new Int32Array(entries);
  const weight = new Float64Array(C * Ho * Wo);
  let k = 0;
  let p = 0;
  for (let c = 0; c < C; c++) {
    for (let u = 0; u < Ho; u++) {
      for (let v = 0; v < Wo; v++) {
        for (const i of rows.inside[u]) for (const j of cols.inside[v]) index[p++] = (c * H + i) * W + j;
        const real = p - start[k];
        if (real === 0 && isMax) fail('a pooling window lies entirely in the padding');
        const padded = rows.padded[u] * cols.padded[v];
        weight[k] = 1 / Math.max(1, countIncludePad ? padded : real);
        start[++k] = p;
      }
    }
  }
  return { windows: { start, index }, weight };
}

/**
 * One axis of a pooling window, for every output position u: the input positions its taps read inside the input
 * (i = u·s + a·d − p_before, in tap order) and how many taps fall inside the padded input, both found from the index
 * arithmetic rather than by visiting every tap.
 */
function windowAxis(
  outSize: number,
  inSize: number,
  kernel: number,
  stride: number,
  dilation: number,
  padBefore: number,
  padAfter: number,
): { inside: Int32Array[]; insideTotal: number; padded: Float64Array } {
  const inside: Int32Array[] = [];
  const padded = new Float64Array(outSize);
  let insideTotal = 0;
  for (let u = 0; u < outSize; u++) {
    const base = u * stride - padBefore;
    const first = Math.max(0, Math.ceil(-base / dilation));
    const last = Math.min(kernel - 1, Math.floor((inSize - 1 - base) / dilation));
    const taps = new Int32Array(Math.max(0, last - first + 1));
    for (let t = 0; t < taps.length; t++) taps[t] = base + (first + t) * dilation;
    inside.push(taps);
    insideTotal += taps.length;
    padded[u] = Math.max(0, Math.min(kernel - 1, Math.floor((inSize + padBefore + padAfter - 1 - u * stride) / dilation)) + 1);
  }
  return { inside, insideTotal, padded };
}
