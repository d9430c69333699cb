// TensorFlow → engine layout conversions (docs/algorithm.md §1): activations NHWC → NCHW, conv kernels HWIO → OIHW,
// depthwise [kh, kw, C, mult] → OIHW with groups = C, Dense [in, out] → [out, in] (rows re-ordered when the
// input was flattened from an NHWC map). Values are converted lazily, when a WeightTensor is loaded.
import type { Shape, WeightTensor } from '../../ir';
import type { StoredWeight } from './weights';

/** How TensorFlow lays out rank-4 activations in this model. */
export type TfLayout = 'NHWC' | 'NCHW';

/** Axis permutation taking a rank-4 TF shape to the engine's NCHW (identity for other ranks or NCHW models). */
export function irPermutation(rank: number, layout: TfLayout): number[] {
  const identity = [...Array(rank).keys()];
  return rank === 4 && layout === 'NHWC' ? [0, 3, 1, 2] : identity;
}

export function toIrShape(tfShape: Shape, layout: TfLayout): Shape {
  return irPermutation(tfShape.length, layout).map((axis) => tfShape[axis]!);
}

export function toTfShape(irShape: Shape, layout: TfLayout): Shape {
  const perm = irPermutation(irShape.length, layout);
  const out = new Array<number>(irShape.length);
  perm.forEach((tfAxis, irAxis) => (out[tfAxis] = irShape[irAxis]!));
  return out;
}

/** The engine axis of a (possibly negative) TF axis of a rank-`rank` tensor. */
export function toIrAxis(tfAxis: number, rank: number, layout: TfLayout): number {
  const axis = tfAxis < 0 ? tfAxis + rank : tfAxis;
  return irPermutation(rank, layout).indexOf(axis);
}

/** Transposes a row-major tensor: out axis k is input axis perm[k]. */
export function permuteAxes(values: Float64Array, shape: Shape, perm: number[]): Float64Array {
  if (perm.every((axis, k) => axis === k)) return values;
  const rank = shape.length;
  const inStrides = new Array<number>(rank);
  for (let k = rank - 1, stride = 1; k >= 0; k--) {
    inStrides[k] = stride;
    stride *= shape[k]!;
  }
  const outShape = perm.map((axis) => shape[axis]!);
  const strideAlongOut = perm.map((axis) => inStrides[axis]!);
  const out = new Float64Array(values.length);
  const index = new Array<number>(rank).fill(0);
  let source = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = values[source]!;
    // Odometer over the output index, moving `source` by the matching input stride.
    for (let k = rank - 1; k >= 0; k--) {
      index[k]!++;
      source += strideAlongOut[k]!;
      if (index[k]! < outShape[k]!) break;
      source -= strideAlongOut[k]! * outShape[k]!;
      index[k] = 0;
    }
  }
  return out;
}

/** A WeightTensor that reads `stored` and rearranges it only when loaded. */
export function lazyWeight(name: string, shape: Shape, stored: StoredWeight, convert: (values: Float64Array) => Float64Array = (v) => v): WeightTensor {
  return { name, shape, storage: stored.storage, ...(stored.files ? { files: stored.files } : {}), load: () => convert(stored.read()) };
}

/** Conv kernel [kh, kw, in, out] → [out, in, kh, kw]. */
export function convKernel(stored: StoredWeight): WeightTensor {
  const [kh, kw, cin, cout] = stored.shape as [number, number, number, number];
  return lazyWeight(stored.name, [cout, cin, kh, kw], stored, (v) => permuteAxes(v, stored.shape, [3, 2, 0, 1]));
}

/** Depthwise kernel [kh, kw, C, mult] → [C·mult, 1, kh, kw]; output channel c·mult + m, as TF orders them. */
export function depthwiseKernel(stored: StoredWeight): WeightTensor {
  const [kh, kw, channels, multiplier] = stored.shape as [number, number, number, number];
  // [C, mult, kh, kw] in memory is exactly [C·mult, 1, kh, kw].
  return lazyWeight(stored.name, [channels * multiplier, 1, kh, kw], stored, (v) => permuteAxes(v, stored.shape, [2, 3, 0, 1]));
}

/**
 * Dense kernel → [out, in]. `transposed` says the file already stores [out, in] (MatMul transpose_b).
 * `flattenedFrom` = [H, W, C] when the input is an NHWC map flattened by TF in (h, w, c) order: the engine
 * flattens in (c, h, w) order, so the kernel's input columns are re-ordered to compute the same function.
 */
export function denseKernel(stored: StoredWeight, transposed: boolean, flattenedFrom?: [number, number, number]): WeightTensor {
  const [rows, cols] = stored.shape as [number, number];
  const [inFeatures, outFeatures] = transposed ? [cols, rows] : [rows, cols];
  let convert: (v: Float64Array) => Float64Array;
  if (flattenedFrom) {
    const [h, w, c] = flattenedFrom;
    convert = transposed ? (v) => permuteAxes(v, [outFeatures, h, w, c], [0, 3, 1, 2]) : (v) => permuteAxes(v, [h, w, c, outFeatures], [3, 2, 0, 1]);
  } else {
    convert = transposed ? (v) => v : (v) => permuteAxes(v, [inFeatures, outFeatures], [1, 0]);
  }
  return lazyWeight(stored.name, [outFeatures, inFeatures], stored, convert);
}

/**
 * A constant that broadcasts against a rank-`rank` activation, in engine layout: right-aligned to that rank
 * (as TF broadcasting does) and permuted like the activation.
 */
export function broadcastOperand(stored: StoredWeight, rank: number, layout: TfLayout): WeightTensor {
  if (stored.shape.length > rank) return lazyWeight(stored.name, stored.shape, stored);
  const aligned = [...new Array<number>(rank - stored.shape.length).fill(1), ...stored.shape];
  const perm = irPermutation(rank, layout);
  return lazyWeight(stored.name, toIrShape(aligned, layout), stored, (v) => permuteAxes(v, aligned, perm));
}

/** Per-channel vector (bias, BN parameters, per-channel scale): any shape with a single non-1 dim, as [C]. */
export function channelVector(stored: StoredWeight, channels: number): WeightTensor | undefined {
  const elements = stored.shape.reduce((n, d) => n * d, 1);
  if (elements === channels && stored.shape.filter((d) => d !== 1).length <= 1) return lazyWeight(stored.name, [channels], stored);
  if (elements === 1) return lazyWeight(stored.name, [channels], stored, (v) => new Float64Array(channels).fill(v[0]!));
  return undefined;
}

/** A constant-valued weight the file leaves implicit (BN with center=False, scale=False). */
export function filledWeight(name: string, shape: Shape, value: number): WeightTensor {
  const size = shape.reduce((n, d) => n * d, 1);
  return { name, shape, storage: 'implicit', load: () => new Float64Array(size).fill(value) };
}

/** A kernel scaled per output channel (a folded Mul after a conv/dense), O being the first axis. */
export function scaledKernel(kernel: WeightTensor, scale: WeightTensor): WeightTensor {
  return {
    name: kernel.name,
    shape: kernel.shape,
    storage: kernel.storage,
    ...(kernel.files ? { files: kernel.files } : {}),
    load: () => {
      const values = kernel.load();
      const factors = scale.load();
      const perChannel = values.length / factors.length;
      for (let i = 0; i < values.length; i++) values[i]! *= factors[Math.floor(i / perChannel)]!;
      return values;
    },
  };
}
