// TF shape rules shared by constant folding and the graph ops: one definition of Squeeze and ExpandDims. The
// arithmetic is the ONNX reader's (same semantics); it throws ShapeMismatch, which callers turn into an error or
// leave the node unfolded.
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
