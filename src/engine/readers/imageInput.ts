// Image inputs whose height and width the file leaves dynamic (PaddleOCR's [?,3,?,?], TF Hub's [1,?,?,3]): the
// size comes from the model's metadata when it gives one, else DEFAULT_IMAGE_SIZE; the caller warns with the shape.
import { DEFAULT_IMAGE_SIZE } from '../options';

/** An image size found in a model's metadata, and the entry it came from (for the warning). */
export interface ImageSizeHint {
  size: [number, number];
  source: string;
}

/** Metadata keys that give the input image size: image_size, imageSize, input_size, img_shape, input_resolution... */
const SIZE_KEY = /^(image|img|input)[_\s-]?(size|shape|resolution)$/i;
/** Channel counts of images, told apart from sizes in a listed shape. */
const CHANNEL_COUNTS = new Set([1, 3, 4]);

/**
 * The image size given by metadata `entries` (ONNX metadata_props, TF.js userDefinedMetadata): "224" or 224 is
 * square, "48,192" or [48, 192] is height, width, and a listed shape with its channels ("3,48,192", [1, 224, 224, 3])
 * gives the two dimensions besides batch and channels.
 */
export function imageSizeFromMetadata(entries: Iterable<[string, unknown]>): ImageSizeHint | undefined {
  for (const [key, value] of entries) {
    if (!SIZE_KEY.test(key)) continue;
    const numbers = (Array.isArray(value) ? value.join(',') : String(value)).match(/\d+/g)?.map(Number) ?? [];
    const size = spatialPair(numbers.filter((n) => Number.isSafeInteger(n) && n > 0));
    if (size) return { size, source: `${key} = ${Array.isArray(value) ? `[${value.join(', ')}]` : String(value)}` };
  }
  return undefined;
}

function spatialPair(numbers: number[]): [number, number] | undefined {
  if (numbers.length === 1) return [numbers[0]!, numbers[0]!];
  if (numbers.length === 2) return [numbers[0]!, numbers[1]!];
  const rest = numbers.length === 4 ? numbers.slice(1) : numbers;
  if (rest.length !== 3) return undefined;
  if (CHANNEL_COUNTS.has(rest[0]!)) return [rest[1]!, rest[2]!];
  if (CHANNEL_COUNTS.has(rest[2]!)) return [rest[0]!, rest[1]!];
  return undefined;
}

/**
 * `dims` (undefined where dynamic) with a dynamic batch set to 1 and dynamic height and width filled from `hint` or
 * DEFAULT_IMAGE_SIZE, when they are those of an image: rank 4 with a known channel count at `channelAxis` (1 for
 * NCHW, 3 for NHWC) and at least one dynamic spatial dimension. Undefined otherwise. `because` says where the size
 * comes from, for the warning.
 */
export function assumedImageShape(
  dims: readonly (number | undefined)[],
  channelAxis: 1 | 3,
  hint: ImageSizeHint | undefined,
): { shape: number[]; because: string } | undefined {
  if (dims.length !== 4 || dims[channelAxis] === undefined) return undefined;
  const [heightAxis, widthAxis] = channelAxis === 1 ? [2, 3] : [1, 2];
  if (dims[heightAxis] !== undefined && dims[widthAxis] !== undefined) return undefined;
  const [height, width] = hint?.size ?? [DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE];
  const shape = dims.map((d, axis) => d ?? (axis === heightAxis ? height : axis === widthAxis ? width : 1));
  const because = hint ? `from the model's metadata (${hint.source})` : `the usual image-classifier size, ${DEFAULT_IMAGE_SIZE}x${DEFAULT_IMAGE_SIZE}`;
  return { shape, because };
}
