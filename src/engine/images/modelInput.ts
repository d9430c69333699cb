// Images ↔ model inputs. An image in [0,1] becomes the flat CHW model input x = (image − mean[c]) / std[c]
// (docs/algorithm.md §7.16); the inverse maps a reconstruction in the model's input space back to an image for the
// metrics and the display.
import * as path from 'path';
import type { InputNormalization } from '../attack/types';
import type { FileAccess } from '../files/fileAccess';
import { readImage, type FloatImage, type RgbaImage } from './codec';
import { isRgbaImage, rgbaToFloat, toChannels } from './convert';
import { centerCropResize } from './resize';

/** [C, H, W] with C ∈ {1, 3}. */
interface ImageInputShape {
  channels: 1 | 3;
  height: number;
  width: number;
}

function parseInputShape(inputShape: readonly number[]): ImageInputShape {
  if (inputShape.length !== 3 || !inputShape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(`model input shape must be [C, H, W] with positive integers, got [${inputShape.join(', ')}]`);
  }
  const [channels, height, width] = inputShape;
  if (channels !== 1 && channels !== 3) {
    throw new Error(`model input has ${channels} channels; images can only feed 1-channel (greyscale) or 3-channel (RGB) inputs`);
  }
  return { channels, height, width };
}

/** Per-channel mean and std, broadcasting a single value to every channel; std must be finite and non-zero. */
function channelNormalization(normalization: InputNormalization, channels: number): { mean: number[]; std: number[] } {
  const expand = (values: number[], what: string) => {
    if (values.length !== 1 && values.length !== channels) {
      throw new Error(`normalisation ${what} has ${values.length} values; the model input has ${channels} channel(s) (give 1 or ${channels})`);
    }
    if (!values.every(Number.isFinite)) throw new Error(`normalisation ${what} must be finite numbers, got [${values.join(', ')}]`);
    return values.length === 1 ? new Array<number>(channels).fill(values[0]) : values.slice();
  };
  const mean = expand(normalization.mean, 'mean');
  const std = expand(normalization.std, 'std');
  if (std.some((s) => s === 0)) throw new Error(`normalisation std must be non-zero, got [${normalization.std.join(', ')}]`);
  return { mean, std };
}

/**
 * The [0,1] image the model sees: centre-cropped and resized to H×W when the size differs, converted to C channels
 * (RGB → grey by BT.601 luma, grey → RGB by replication). This is the "original" for metrics and display.
 */
export function fitImageToInput(image: FloatImage | RgbaImage, inputShape: readonly number[]): FloatImage {
  const { channels, height, width } = parseInputShape(inputShape);
  let fitted: FloatImage;
  if (image.width === width && image.height === height) {
    fitted = isRgbaImage(image) ? rgbaToFloat(image, channels) : image;
  } else {
    fitted = centerCropResize(image, width, height);
  }
  return toChannels(fitted, channels);
}

/** Flat CHW model input: x = (image − mean[c]) / std[c], with the image fitted to the input shape first. */
export function imageToModelInput(image: FloatImage | RgbaImage, inputShape: readonly number[], normalization: InputNormalization): Float64Array {
  const fitted = fitImageToInput(image, inputShape);
  const { mean, std } = channelNormalization(normalization, fitted.channels);
  const plane = fitted.width * fitted.height;
  const x = new Float64Array(fitted.data.length);
  for (let c = 0; c < fitted.channels; c++) {
    for (let p = c * plane; p < (c + 1) * plane; p++) x[p] = (fitted.data[p] - mean[c]) / std[c];
  }
  return x;
}

/** Inverse of imageToModelInput's normalisation: image = x·std[c] + mean[c] (not clipped: reconstructions may overshoot). */
export function modelInputToImage(x: ArrayLike<number>, inputShape: readonly number[], normalization: InputNormalization): FloatImage {
  const { channels, height, width } = parseInputShape(inputShape);
  const plane = height * width;
  if (x.length !== channels * plane) {
    throw new Error(`model input has ${x.length} values; shape [${inputShape.join(', ')}] needs ${channels * plane}`);
  }
  const { mean, std } = channelNormalization(normalization, channels);
  const data = new Float64Array(channels * plane);
  for (let c = 0; c < channels; c++) {
    for (let p = c * plane; p < (c + 1) * plane; p++) data[p] = x[p] * std[c] + mean[c];
  }
  return { channels, height, width, data };
}

export interface SampleImage {
  /** File name inside the folder, e.g. "astronaut.png". */
  name: string;
  file: string;
  /** The fitted image in [0,1] (C×H×W of the model input). */
  image: FloatImage;
  /** The normalised model input, flat CHW. */
  input: Float64Array;
}

const IMAGE_EXTENSION = /\.(png|jpe?g)$/i;

/**
 * Reads the .png/.jpg/.jpeg files of a folder (not recursive, other files ignored), sorted by name, fitted to the
 * model input. Unreadable images throw ImageReadError; a folder without images throws.
 */
export async function loadSampleImages(
  files: FileAccess,
  folder: string,
  inputShape: readonly number[],
  normalization: InputNormalization,
  options: { limit?: number } = {},
): Promise<SampleImage[]> {
  parseInputShape(inputShape);
  let entries;
  try {
    entries = await files.list(folder);
  } catch (e) {
    throw new Error(`cannot read the image folder ${folder}: ${(e as Error).message}`, { cause: e });
  }
  const names = entries
    .filter((entry) => IMAGE_EXTENSION.test(entry.name) && entry.kind === 'file')
    .map((entry) => entry.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (names.length === 0) throw new Error(`no PNG or JPEG images (.png, .jpg, .jpeg) in ${folder}`);
  const limit = options.limit;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) throw new Error(`image limit must be a positive integer, got ${limit}`);
  const chosen = names.slice(0, limit ?? names.length);
  return Promise.all(chosen.map((name) => loadOne(files, path.join(folder, name), name, inputShape, normalization)));
}

/** Reads the given PNG/JPEG files (in the given order, whatever their extension) fitted to the model input. */
export async function loadImageFiles(
  files: FileAccess,
  paths: readonly string[],
  inputShape: readonly number[],
  normalization: InputNormalization,
): Promise<SampleImage[]> {
  parseInputShape(inputShape);
  if (paths.length === 0) throw new Error('no image files given');
  return Promise.all(paths.map((file) => loadOne(files, file, path.basename(file), inputShape, normalization)));
}

async function loadOne(files: FileAccess, file: string, name: string, inputShape: readonly number[], normalization: InputNormalization): Promise<SampleImage> {
  const image = fitImageToInput(await readImage(files, file), inputShape);
  return { name, file, image, input: imageToModelInput(image, inputShape, normalization) };
}
