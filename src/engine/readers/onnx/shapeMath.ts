// Pure shape arithmetic for ONNX operators. Functions throw ShapeMismatch; the graph builder turns it into a
// located ModelReadError('bad-shape').
import type { Shape } from '../../ir';
import { sizeOf } from '../../ir';

export class ShapeMismatch extends Error {}

export function mismatch(reason: string): never {
  throw new ShapeMismatch(reason);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

export function rowMajorStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    strides[axis] = stride;
    stride *= shape[axis];
  }
  return strides;
}

/** A possibly negative axis made non-negative; `rank` is the number of valid positions. */
export function normalizeAxis(axis: number, rank: number, what = 'axis'): number {
  const resolved = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(resolved) || resolved < 0 || resolved >= rank) mismatch(`${what} ${axis} is out of range for rank ${rank}`);
  return resolved;
}

/** Numpy (multidirectional) broadcasting. */
export function broadcastShapes(shapes: readonly Shape[]): Shape {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const shape of shapes) {
    const shift = rank - shape.length;
    shape.forEach((dim, i) => {
      const current = out[shift + i];
      if (dim === current || dim === 1) return;
      if (current === 1) out[shift + i] = dim;
      else mismatch(`shapes ${shapes.map(formatShape).join(' and ')} cannot be broadcast together`);
    });
  }
  return out;
}

/** Strides that read a tensor of `shape` broadcast to `target` (0 along broadcast axes). */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const own = rowMajorStrides(shape);
  const shift = target.length - shape.length;
  return target.map((_, axis) => {
    const i = axis - shift;
    return i < 0 || shape[i] === 1 ? 0 : own[i];
  });
}

/**
 * Shape of operand B under pre-opset-7 "legacy" broadcasting (broadcast=1, axis) expressed as an equivalent
 * numpy-broadcastable shape: B's dims are aligned at `axis` of A and padded with trailing 1s.
 */
export function legacyBroadcastShape(b: Shape, aRank: number, axis: number | undefined): Shape {
  const start = axis === undefined ? aRank - b.length : normalizeAxis(axis, aRank);
  if (start < 0 || start + b.length > aRank) mismatch(`operand ${formatShape(b)} does not fit rank ${aRank} at axis ${axis}`);
  return [...b, ...new Array<number>(aRank - start - b.length).fill(1)];
}

/** ONNX Reshape target: 0 copies the input dim (unless allowzero), one -1 is inferred. */
export function reshapeTarget(input: Shape, target: readonly number[], allowZero: boolean): Shape {
  const out = target.map((dim, i) => {
    if (!Number.isInteger(dim) || dim < -1) mismatch(`reshape target ${formatShape(target)} has an invalid dimension ${dim}`);
    if (dim === 0 && !allowZero) {
      if (i >= input.length) mismatch(`reshape target ${formatShape(target)} copies dimension ${i}, which ${formatShape(input)} lacks`);
      return input[i];
    }
    return dim;
  });
  const inferred = out.indexOf(-1);
  if (inferred !== out.lastIndexOf(-1)) mismatch(`reshape target ${formatShape(target)} has more than one -1`);
  const total = sizeOf(input);
  if (inferred >= 0) {
    const known = sizeOf(out.filter((_, i) => i !== inferred));
    if (known === 0 || total % known !== 0) mismatch(`cannot reshape ${formatShape(input)} to ${formatShape(target)}`);
    out[inferred] = total / known;
  }
  if (sizeOf(out) !== total) mismatch(`cannot reshape ${formatShape(input)} (${total} elements) to ${formatShape(out)}`);
  return out;
}

export function flattenShape(input: Shape, axis: number): Shape {
  const split = normalizeAxis(axis, input.length + 1);
  return [sizeOf(input.slice(0, split)), sizeOf(input.slice(split))];
}

export function transposeShape(input: Shape, perm: readonly number[]): Shape {
  const sorted = [...perm].sort((a, b) => a - b);
  if (perm.length !== input.length || sorted.some((axis, i) => axis !== i)) {
    mismatch(`perm ${formatShape(perm)} is not a permutation of the ${input.length} axes`);
  }
  return perm.map((axis) => input[axis]);
}

/** Removes `axes` (all size-1 axes when undefined). */
export function squeezeShape(input: Shape, axes: readonly number[] | undefined): Shape {
  if (axes === undefined) return input.filter((dim) => dim !== 1);
  const drop = new Set(axes.map((axis) => normalizeAxis(axis, input.length)));
  for (const axis of drop) if (input[axis] !== 1) mismatch(`cannot squeeze axis ${axis} of ${formatShape(input)}: it is not 1`);
  return input.filter((_, axis) => !drop.has(axis));
}

export function unsqueezeShape(input: Shape, axes: readonly number[]): Shape {
  const rank = input.length + axes.length;
  const insert = new Set(axes.map((axis) => normalizeAxis(axis, rank)));
  if (insert.size !== axes.length) mismatch(`unsqueeze axes ${formatShape(axes)} repeat an axis`);
  const out: Shape = [];
  let next = 0;
  for (let axis = 0; axis < rank; axis++) out.push(insert.has(axis) ? 1 : input[next++]);
  return out;
}

export function concatShape(inputs: readonly Shape[], axis: number): Shape {
  const first = inputs[0];
  const at = normalizeAxis(axis, first.length);
  const out = [...first];
  out[at] = 0;
  for (const shape of inputs) {
    if (shape.length !== first.length || shape.some((dim, i) => i !== at && dim !== first[i])) {
      mismatch(`cannot concatenate ${inputs.map(formatShape).join(', ')} along axis ${axis}`);
    }
    out[at] += shape[at];
  }
  return out;
}

/** Per-axis start and step of a slice, and the resulting shape (ONNX Slice clamping rules). */
export interface SlicePlan {
  shape: Shape;
  starts: number[];
  steps: number[];
}

export function slicePlan(
  input: Shape,
  starts: readonly number[],
  ends: readonly number[],
  axes: readonly number[] | undefined,
  steps: readonly number[] | undefined,
): SlicePlan {
  if (ends.length !== starts.length) mismatch(`slice has ${starts.length} starts but ${ends.length} ends`);
  const plan: SlicePlan = { shape: [...input], starts: input.map(() => 0), steps: input.map(() => 1) };
  starts.forEach((rawStart, i) => {
    const axis = normalizeAxis(axes ? axes[i] : i, input.length, 'slice axis');
    const dim = input[axis];
    const step = steps ? steps[i] : 1;
    if (!step) mismatch('slice step 0');
    let start = rawStart < 0 ? rawStart + dim : rawStart;
    let end = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      start = clamp(start, 0, dim);
      end = clamp(end, 0, dim);
    } else {
      start = clamp(start, 0, dim - 1);
      end = clamp(end, -1, dim - 1);
    }
    plan.starts[axis] = start;
    plan.steps[axis] = step;
    plan.shape[axis] = Math.max(0, Math.ceil((end - start) / step));
  });
  return plan;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(Math.max(value, low), high);
}

export function gatherShape(data: Shape, indices: Shape, axis: number): Shape {
  const at = normalizeAxis(axis, data.length);
  return [...data.slice(0, at), ...indices, ...data.slice(at + 1)];
}

/** numpy.matmul shape rules (1-D operands are promoted and the added axis removed again). */
export function matmulShape(a: Shape, b: Shape): Shape {
  if (a.length === 0 || b.length === 0) mismatch('MatMul of a scalar');
  const left = a.length === 1 ? [1, a[0]] : a;
  const right = b.length === 1 ? [b[0], 1] : b;
  const k = left[left.length - 1];
  if (k !== right[right.length - 2]) mismatch(`cannot multiply ${formatShape(a)} by ${formatShape(b)}`);
  const batch = broadcastShapes([left.slice(0, -2), right.slice(0, -2)]);
  const out = [...batch];
  if (a.length > 1) out.push(left[left.length - 2]);
  if (b.length > 1) out.push(right[right.length - 1]);
  return out;
}

/** Reduction over `axes` (all axes when undefined or empty and noopWithEmptyAxes is false). */
export function reduceShape(input: Shape, axes: readonly number[] | undefined, keepDims: boolean): Shape {
  const reduced = new Set(axes && axes.length > 0 ? axes.map((axis) => normalizeAxis(axis, input.length)) : input.keys());
  return keepDims ? input.map((dim, axis) => (reduced.has(axis) ? 1 : dim)) : input.filter((_, axis) => !reduced.has(axis));
}
