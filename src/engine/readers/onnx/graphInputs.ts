// Shapes of the graph inputs: declared dims, with dynamic ones filled from ReadOptions.inputShape, the batch
// defaulted to 1 and an image's height and width assumed (imageInput.ts). Everything is checked before any tensor
// is built from it.
import type { onnx } from 'onnx-proto';
import type { Shape, TensorInfo } from '../../ir';
import { ModelReadError } from '../../errors';
import { inputShapeFor, namedInputs, type ResolvedReadOptions } from '../../options';
import { assumedImageShape, type ImageSizeHint } from '../imageInput';
import { toNumber } from './protobuf';
import { checkElementCount } from './tensors';

/** Declared dims with undefined for dynamic ones (dim_param, or no value); undefined when no shape is declared. */
function declaredInputDims(info: onnx.IValueInfoProto, file: string, where: string): (number | undefined)[] | undefined {
  const shape = info.type?.tensorType?.shape;
  if (!shape) return undefined;
  return (shape.dim ?? []).map((dim, axis) => {
    if (dim.dimValue === null || dim.dimValue === undefined) return undefined;
    const value = toNumber(dim.dimValue);
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new ModelReadError('bad-shape', file, where, `dimension ${axis} is declared as ${value}`);
    }
    // Some exporters write 0 for "unknown"; an empty input could not be analysed anyway.
    return value === 0 ? undefined : value;
  });
}

/** A fully static, positive declared shape (value_info, graph outputs), or undefined. */
export function staticShape(info: onnx.IValueInfoProto): Shape | undefined {
  const dims = info.type?.tensorType?.shape?.dim;
  if (!dims) return undefined;
  const shape = dims.map((dim) => (dim.dimValue === null || dim.dimValue === undefined ? NaN : toNumber(dim.dimValue)));
  return shape.every((d) => Number.isSafeInteger(d) && d > 0) ? shape : undefined;
}

function checkedOptionShape(shape: Shape | undefined, file: string): Shape | undefined {
  if (shape && (shape.length === 0 || shape.some((d) => !Number.isSafeInteger(d) || d < 1))) {
    throw new ModelReadError('bad-shape', file, 'options.inputShape', `[${shape.join(',')}] must hold positive integers`);
  }
  return shape;
}

/** A graph input; `assumed` when its image size was assumed rather than given. */
export interface ResolvedInput extends TensorInfo {
  assumed?: boolean;
}

function formatDims(dims: readonly (number | undefined)[]): string {
  return `[${dims.map((d) => d ?? '?').join(',')}]`;
}

/**
 * Resolves every graph input that is not an initializer. opts.inputShape gives shapes by input name, and an unnamed
 * one for the first input (the image); a shape may leave out the batch dimension. An image input whose height and
 * width stay dynamic gets them from `imageHint` (the model's metadata) or DEFAULT_IMAGE_SIZE, with a warning.
 */
export function resolveGraphInputs(
  inputs: readonly onnx.IValueInfoProto[],
  isInitializer: (name: string) => boolean,
  opts: ResolvedReadOptions,
  file: string,
  warnings: string[],
  imageHint?: ImageSizeHint,
): ResolvedInput[] {
  const resolved: ResolvedInput[] = [];
  for (const info of inputs) {
    const name = info.name ?? '';
    if (isInitializer(name)) continue;
    const where = `input "${name}"`;
    const given = checkedOptionShape(inputShapeFor(opts.inputShape, name, resolved.length === 0), file);
    const declared = declaredInputDims(info, file, where);
    const dims = declared ?? given?.map(() => undefined);
    if (!dims) throw new ModelReadError('bad-shape', file, where, `input "${name}" declares no shape; pass an input shape`);
    const option = given && given.length === dims.length - 1 ? [1, ...given] : given;
    if (option && option.length !== dims.length) {
      const reason = `the input shape [${option.join(',')}] has rank ${option.length} but input "${name}" has rank ${dims.length}`;
      throw new ModelReadError('bad-shape', file, where, reason);
    }
    const image = option ? undefined : assumedImageShape(dims, 1, imageHint);
    if (image) {
      warnings.push(
        `input "${name}" ${formatDims(dims)} has a dynamic image size; assuming [${image.shape.join(',')}] (${image.because}); pass an input shape to choose another`,
      );
    }
    const shape =
      image?.shape ??
      dims.map((dim, axis) => {
        if (dim !== undefined) {
          if (option && option[axis] !== dim) {
            warnings.push(`input "${name}" dimension ${axis} is fixed to ${dim} in the file; the given ${option[axis]} is ignored`);
          }
          return dim;
        }
        if (option) return option[axis]!;
        if (axis === 0) {
          warnings.push(`input "${name}" has a dynamic batch dimension; using 1`);
          return 1;
        }
        throw new ModelReadError('bad-shape', file, where, `input "${name}" dimension ${axis} is dynamic; pass an input shape`);
      });
    checkElementCount(shape, { modelFile: file, maxTensorElements: opts.maxTensorElements }, where);
    resolved.push(image ? { name, shape, assumed: true } : { name, shape });
  }
  const known = new Set(resolved.map((input) => input.name));
  for (const name of namedInputs(opts.inputShape)) {
    if (!known.has(name)) warnings.push(`the input shape for "${name}" is not used: the model's inputs are ${[...known].map((n) => `"${n}"`).join(', ')}`);
  }
  return resolved;
}
