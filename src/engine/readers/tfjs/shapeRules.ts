// TF shape rules shared by constant folding and the graph ops: one definition of Squeeze, ExpandDims and the range a
// StridedSlice takes. The arithmetic is the ONNX reader's where the semantics agree; it throws ShapeMismatch, which
// callers turn into an error or leave the node unfolded.
import type { Shape } from '../../ir';
import { squeezeShape, unsqueezeShape } from '../onnx/shapeMath';
import { attrInts, type GraphNode } from './graphDef';

export { broadcastShapes, reshapeTarget, ShapeMismatch } from '../onnx/shapeMath';

/** TF Squeeze: removes the listed axes (each must be 1), or every size-1 axis when none is listed. */
export function squeezedShape(node: GraphNode, shape: Shape): Shape {
  const axes = attrInts(node, 'squeeze_dims') ?? attrInts(node, 'axis') ?? [];
  return squeezeShape(shape, axes.length > 0 ? axes : undefined);
}

/** TF ExpandDims: a 1 inserted at `axis` (negative counts from the end, -1 appends). */
export function expandedShape(shape: Shape, axis: number | undefined): Shape {
  return unsqueezeShape(shape, [axis ?? NaN]);
}

/**
 * First index and element count of a TF StridedSlice along one axis of `length` elements: negative indices count
 * from the end, a masked begin/end means "from the start/to the end in the stride's direction", and the rest is
 * clamped to the axis. Undefined for a stride that is not a non-zero whole number (a hostile one could loop).
 */
export function sliceRange(
  length: number,
  begin: number,
  end: number,
  stride: number,
  beginMasked: boolean,
  endMasked: boolean,
): { start: number; count: number } | undefined {
  if (![begin, end, stride].every(Number.isSafeInteger) || stride === 0) return undefined;
  const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + length : i, stride > 0 ? 0 : -1), stride > 0 ? length : length - 1);
  const start = beginMasked ? (stride > 0 ? 0 : length - 1) : clamp(begin);
  const stop = endMasked ? (stride > 0 ? length : -1) : clamp(end);
  return { start, count: Math.max(0, Math.ceil((stop - start) / stride)) };
}
