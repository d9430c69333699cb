// Lazy derivations of constant tensors: folding a Reshape, Transpose, Slice... of a weight only records how to
// compute it, so weights are still read only when the analysis asks for them. A derived tensor computes its values
// once and keeps them (chains and diamonds of derivations would otherwise recompute their operands exponentially).
import { onnx } from 'onnx-proto';
import type { Shape } from '../../ir';
import { sizeOf } from '../../ir';
import { ModelReadError } from '../../errors';
import type { ConstTensor } from './tensors';
import { broadcastStrides, rowMajorStrides, type SlicePlan } from './shapeMath';

const INT64 = onnx.TensorProto.DataType.INT64;

/** `compute` run on the first call only; a failed computation is retried (and fails again) on the next call. */
function once(compute: () => Float64Array): () => Float64Array {
  let cached: Float64Array | undefined;
  return () => (cached ??= compute());
}

function depthOf(sources: readonly ConstTensor[]): number {
  return 1 + Math.max(0, ...sources.map((t) => t.depth ?? 0));
}

/** A tensor computed from `sources`; the values are computed once, when first asked for. */
function computedFrom(name: string, sources: readonly ConstTensor[], shape: Shape, dataType: number, compute: () => Float64Array): ConstTensor {
  return { name, shape, dataType, values: once(compute), depth: depthOf(sources), computed: true, shared: true };
}

export function derived(source: ConstTensor, shape: Shape, compute: () => Float64Array, dataType = source.dataType): ConstTensor {
  return computedFrom(source.name, [source], shape, dataType, compute);
}

/** A tensor known from its values (shapes computed by Shape/Size); `values()` returns a fresh copy. */
export function constFromValues(name: string, shape: Shape, values: readonly number[], dataType = INT64): ConstTensor {
  return { name, shape, dataType, values: () => Float64Array.from(values) };
}

/**
 * `tensor` with its values computed now (used while folding, in topological order, so that `values()` never walks a
 * long chain). A ModelReadError raised by the computation is raised again by `values()`, where it used to be.
 */
export function materialized(tensor: ConstTensor): ConstTensor {
  const { name, shape, dataType, computed } = tensor;
  let values: () => Float64Array;
  try {
    const array = tensor.values();
    values = () => array;
  } catch (e) {
    if (!(e instanceof ModelReadError)) throw e;
    values = () => {
      throw e;
    };
  }
  return { name, shape, dataType, values, depth: 0, shared: true, ...(computed ? { computed } : {}) };
}

/** The same values seen with another shape: nothing is computed or copied. */
export function reshaped(source: ConstTensor, shape: Shape): ConstTensor {
  const { computed: _, ...view } = source;
  return { ...view, shape };
}

/** Not kept: filling is cheap, and the tensor may be large with no file bytes behind it. */
export function filled(name: string, shape: Shape, value: number, dataType: number): ConstTensor {
  return { name, shape, dataType, values: () => new Float64Array(sizeOf(shape)).fill(value), computed: true, fill: value };
}

export function scaled(source: ConstTensor, factor: number): ConstTensor {
  if (factor === 1) return source;
  return derived(source, source.shape, () => source.values().map((v) => v * factor));
}

/**
 * Reads `source` into a tensor of `shape` walking it with per-axis `strides` from `offset`; transposes, slices and
 * broadcasts are all such walks.
 */
function stridedRead(source: Float64Array, shape: Shape, strides: readonly number[], offset: number): Float64Array {
  const out = new Float64Array(sizeOf(shape));
  const counter = new Array<number>(shape.length).fill(0);
  let index = offset;
  for (let i = 0; i < out.length; i++) {
    out[i] = source[index];
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      index += strides[axis];
      if (++counter[axis] < shape[axis]) break;
      index -= strides[axis] * shape[axis];
      counter[axis] = 0;
    }
  }
  return out;
}

export function transposed(source: ConstTensor, perm: readonly number[], shape: Shape): ConstTensor {
  const strides = rowMajorStrides(source.shape);
  return derived(source, shape, () =>
    stridedRead(
      source.values(),
      shape,
      perm.map((axis) => strides[axis]),
      0,
    ),
  );
}

/** A 2-D [rows, cols] tensor as [cols, rows]: ONNX MatMul/Gemm weights [in, out] in the engine's [out, in] layout. */
export function transposed2d(source: ConstTensor): ConstTensor {
  return transposed(source, [1, 0], [source.shape[1], source.shape[0]]);
}

export function sliced(source: ConstTensor, plan: SlicePlan): ConstTensor {
  const strides = rowMajorStrides(source.shape);
  const offset = plan.starts.reduce((sum, start, axis) => sum + start * strides[axis], 0);
  const walk = strides.map((stride, axis) => stride * plan.steps[axis]);
  return derived(source, plan.shape, () => stridedRead(source.values(), plan.shape, walk, offset));
}

export function broadcastTo(source: ConstTensor, shape: Shape): ConstTensor {
  const strides = broadcastStrides(source.shape, shape);
  return derived(source, shape, () => stridedRead(source.values(), shape, strides, 0));
}

/** Element-wise combination of constants broadcast to `shape`. */
export function combined(name: string, operands: readonly ConstTensor[], shape: Shape, op: (a: number, b: number) => number): ConstTensor {
  return computedFrom(name, operands, shape, operands[0].dataType, () => {
    const [first, ...rest] = operands.map((t) => stridedRead(t.values(), shape, broadcastStrides(t.shape, shape), 0));
    for (const other of rest) for (let i = 0; i < first.length; i++) first[i] = op(first[i], other[i]);
    return first;
  });
}

export function concatenated(name: string, parts: readonly ConstTensor[], axis: number, shape: Shape): ConstTensor {
  return computedFrom(name, parts, shape, parts[0].dataType, () => {
    const out = new Float64Array(sizeOf(shape));
    const outer = sizeOf(shape.slice(0, axis));
    const blocks = parts.map((part) => ({ values: part.values(), size: sizeOf(part.shape.slice(axis)) }));
    let at = 0;
    for (let o = 0; o < outer; o++) {
      for (const block of blocks) {
        out.set(block.values.subarray(o * block.size, (o + 1) * block.size), at);
        at += block.size;
      }
    }
    return out;
  });
}

/** ONNX Gather; indices are checked when the values are computed. */
export function gathered(data: ConstTensor, indices: ConstTensor, axis: number, shape: Shape, modelFile: string, where: string): ConstTensor {
  return computedFrom(data.name, [data, indices], shape, data.dataType, () => {
    const source = data.values();
    const picks = indices.values();
    const dim = data.shape[axis];
    const inner = sizeOf(data.shape.slice(axis + 1));
    const outer = sizeOf(data.shape.slice(0, axis));
    const out = new Float64Array(sizeOf(shape));
    let at = 0;
    for (let o = 0; o < outer; o++) {
      for (const pick of picks) {
        const index = pick < 0 ? pick + dim : pick;
        if (!Number.isInteger(index) || index < 0 || index >= dim) {
          throw new ModelReadError('bad-weights', modelFile, where, `Gather index ${pick} is out of range for dimension ${dim}`);
        }
        out.set(source.subarray((o * dim + index) * inner, (o * dim + index + 1) * inner), at);
        at += inner;
      }
    }
    return out;
  });
}
