// Shapes of the graph inputs: declared dims, with dynamic ones filled from ReadOptions.inputShape or (batch only)
// defaulted to 1. Everything is checked before any tensor is built from it.
import type { onnx } from 'onnx-proto';
import type { Shape, TensorInfo } from '../../ir';
import { ModelReadError } from '../../errors';
import type { ResolvedReadOptions } from '../../options';
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

function checkedOptionShape(opts: ResolvedReadOptions, file: string): Shape | undefined {
  const shape = opts.inputShape;
  if (shape && shape.some((d) => !Number.isSafeInteger(d) || d < 1)) {
    throw new ModelReadError('bad-shape', file, 'options.inputShape', `[${shape.join(',')}] must hold positive integers`);
  }
  return shape;
}

/**
 * Resolves every graph input that is not an initializer. opts.inputShape applies to the first one (the image);
 * it may leave out the batch dimension.
 */
export function resolveGraphInputs(
  inputs: readonly onnx.IValueInfoProto[],
  isInitializer: (name: string) => boolean,
  opts: ResolvedReadOptions,
  file: string,
  warnings: string[],
): TensorInfo[] {
  const optionShape = checkedOptionShape(opts, file);
  const resolved: TensorInfo[] = [];
  for (const info of inputs) {
    const name = info.name ?? '';
    if (isInitializer(name)) continue;
    const where = `input "${name}"`;
    const given = resolved.length === 0 ? optionShape : undefined;
    const declared = declaredInputDims(info, file, where);
    const dims = declared ?? given?.map(() => undefined);
    if (!dims) throw new ModelReadError('bad-shape', file, where, `input "${name}" declares no shape; pass an input shape`);
    const option = given && given.length === dims.length - 1 ? [1, ...given] : given;
    if (option && option.length !== dims.length) {
      const reason = `the input shape [${option.join(',')}] has rank ${option.length} but input "${name}" has rank ${dims.length}`;
      throw new ModelReadError('bad-shape', file, where, reason);
    }
    const shape = dims.map((dim, axis) => {
      if (dim !== undefined) {
        if (option && option[axis] !== dim) {
          warnings.push(`input "${name}" dimension ${axis} is fixed to ${dim} in the file; the given ${option[axis]} is ignored`);
        }
        return dim;
      }
      if (option) return option[axis];
      if (axis === 0) {
        warnings.push(`input "${name}" has a dynamic batch dimension; using 1`);
        return 1;
      }
      throw new ModelReadError('bad-shape', file, where, `input "${name}" dimension ${axis} is dynamic; pass an input shape`);
    });
    checkElementCount(shape, { modelFile: file, maxTensorElements: opts.maxTensorElements }, where);
    resolved.push({ name, shape });
  }
  return resolved;
}
