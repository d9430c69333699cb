// Resizing for model inputs: centre-crop to the target aspect ratio, then resample each axis separately.
//
// - Downscaling (and 1:1) averages areas: output pixel j covers the source interval [x0 + j·s, x0 + (j+1)·s] with
//   s = crop size / output size, and every source pixel contributes in proportion to the length of its overlap
//   (a box filter with fractional coverage). This is the exact mean of the continuous piecewise-constant image and
//   does not alias, unlike point sampling.
// - Upscaling interpolates bilinearly between the two nearest source pixel centres (edges replicated).
//
// Everything runs in float64 on the stored values as they are, treated as linear in [0,1]: no sRGB linearisation.
// The datasets and attacks this feeds (torchvision ToTensor, PIL resize) work on stored values too, so the model sees
// what it would see in training.
import type { FloatImage, RgbaImage } from './codec';
import { checkFloatImage, isRgbaImage } from './convert';
import { checkRgba } from './codec';

/** A region of the source image in pixel units; may start and end at fractional positions. */
export interface CropBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The largest box with the target's aspect ratio, centred in the source. */
export function centerCropBox(srcWidth: number, srcHeight: number, outWidth: number, outHeight: number): CropBox {
  const targetAspect = outWidth / outHeight;
  if (srcWidth / srcHeight > targetAspect) {
    const width = srcHeight * targetAspect;
    return { x: (srcWidth - width) / 2, y: 0, width, height: srcHeight };
  }
  const height = srcWidth / targetAspect;
  return { x: 0, y: (srcHeight - height) / 2, width: srcWidth, height };
}

/** Centre-crops to width:height and resamples to width×height. RGBA input gives RGB output (alpha dropped). */
export function centerCropResize(image: FloatImage | RgbaImage, width: number, height: number): FloatImage {
  checkOutputSize(width, height);
  return cropResize(image, centerCropBox(image.width, image.height, width, height), width, height);
}

/** Resamples the given box of the source to width×height (area average down, bilinear up, per axis). */
export function cropResize(image: FloatImage | RgbaImage, box: CropBox, width: number, height: number): FloatImage {
  checkOutputSize(width, height);
  const source = sourceLayout(image);
  if (!(
    box.width > 0 &&
    box.height > 0 &&
    box.x >= -1e-9 &&
    box.y >= -1e-9 &&
    box.x + box.width <= image.width + 1e-9 &&
    box.y + box.height <= image.height + 1e-9
  )) {
    throw new Error(`crop box ${JSON.stringify(box)} is not inside the ${image.width}×${image.height} image`);
  }
  const xWeights = axisWeights(image.width, box.x, box.width, width);
  const yWeights = axisWeights(image.height, box.y, box.height, height);

  // Horizontal pass only over the source rows the vertical pass will read.
  const firstRow = yWeights.index.reduce((m, v) => Math.min(m, v), Infinity);
  const lastRow = yWeights.index.reduce((m, v) => Math.max(m, v), -Infinity);
  const rows = lastRow - firstRow + 1;
  const { channels } = source;
  const rowsResampled = new Float64Array(channels * rows * width);
  for (let c = 0; c < channels; c++) {
    for (let r = 0; r < rows; r++) {
      const rowBase = source.base(c) + (firstRow + r) * source.rowStride;
      const outBase = (c * rows + r) * width;
      for (let j = 0; j < width; j++) {
        let sum = 0;
        for (let k = xWeights.offsets[j]; k < xWeights.offsets[j + 1]; k++) {
          sum += xWeights.weight[k] * source.data[rowBase + xWeights.index[k] * source.pixelStride];
        }
        rowsResampled[outBase + j] = sum * source.scale;
      }
    }
  }

  const out = new Float64Array(channels * height * width);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < height; i++) {
      const outBase = (c * height + i) * width;
      for (let k = yWeights.offsets[i]; k < yWeights.offsets[i + 1]; k++) {
        const w = yWeights.weight[k];
        const rowBase = (c * rows + (yWeights.index[k] - firstRow)) * width;
        for (let j = 0; j < width; j++) out[outBase + j] += w * rowsResampled[rowBase + j];
      }
    }
  }
  return { channels, height, width, data: out };
}

/** Repeats every pixel factor×factor times (integer factor ≥ 1): crisp enlargement of tiny images for display. */
export function nearestUpscale<T extends FloatImage | RgbaImage>(image: T, factor: number): T {
  if (!Number.isInteger(factor) || factor < 1) throw new Error(`upscale factor must be an integer ≥ 1, got ${factor}`);
  const { width, height } = image;
  const outW = width * factor;
  const outH = height * factor;
  if (isRgbaImage(image)) {
    checkRgba(image);
    const src = new Uint32Array(image.data.buffer.slice(image.data.byteOffset, image.data.byteOffset + image.data.byteLength));
    const dst = new Uint32Array(outW * outH);
    for (let y = 0; y < outH; y++) {
      const srcRow = Math.floor(y / factor) * width;
      for (let x = 0; x < outW; x++) dst[y * outW + x] = src[srcRow + Math.floor(x / factor)];
    }
    return { width: outW, height: outH, data: new Uint8Array(dst.buffer) } as T;
  }
  const float = image as FloatImage;
  checkFloatImage(float);
  const out = new Float64Array(float.channels * outH * outW);
  for (let c = 0; c < float.channels; c++) {
    for (let y = 0; y < outH; y++) {
      const srcRow = (c * height + Math.floor(y / factor)) * width;
      const dstRow = (c * outH + y) * outW;
      for (let x = 0; x < outW; x++) out[dstRow + x] = float.data[srcRow + Math.floor(x / factor)];
    }
  }
  return { channels: float.channels, height: outH, width: outW, data: out } as T;
}

// ---------------------------------------------------------------------------------------------------------------

/** Sparse resampling matrix of one axis: output j takes weight[k]·src[index[k]] for k in offsets[j]..offsets[j+1]. */
interface AxisWeights {
  offsets: Int32Array;
  index: Int32Array;
  weight: Float64Array;
}

function axisWeights(srcSize: number, start: number, length: number, outSize: number): AxisWeights {
  const step = length / outSize;
  const offsets = new Int32Array(outSize + 1);
  const index: number[] = [];
  const weight: number[] = [];
  const clampIndex = (i: number) => Math.min(srcSize - 1, Math.max(0, i));
  for (let j = 0; j < outSize; j++) {
    if (step >= 1 - 1e-12) {
      // Area average: overlap of source pixel [i, i+1] with the output's footprint [a, b], normalised by its length.
      const a = start + j * step;
      const b = a + step;
      for (let i = Math.floor(a); i < Math.ceil(b); i++) {
        const overlap = Math.min(b, i + 1) - Math.max(a, i);
        if (overlap > 1e-12) {
          index.push(clampIndex(i));
          weight.push(overlap / step);
        }
      }
    } else {
      // Bilinear: the output centre j + ½ maps to source coordinate u; pixel centres sit at i + ½.
      const u = Math.min(srcSize - 1, Math.max(0, start + (j + 0.5) * step - 0.5));
      const i0 = Math.floor(u);
      const t = u - i0;
      index.push(i0);
      weight.push(1 - t);
      if (t > 0) {
        index.push(clampIndex(i0 + 1));
        weight.push(t);
      }
    }
    offsets[j + 1] = index.length;
  }
  return { offsets, index: Int32Array.from(index), weight: Float64Array.from(weight) };
}

interface SourceLayout {
  channels: 1 | 3;
  data: ArrayLike<number>;
  base(c: number): number;
  rowStride: number;
  pixelStride: number;
  /** Factor from stored values to [0,1]. */
  scale: number;
}

// Reads RGBA bytes in place (no full-size float copy of a large photo) or a float CHW image.
function sourceLayout(image: FloatImage | RgbaImage): SourceLayout {
  if (isRgbaImage(image)) {
    checkRgba(image);
    return { channels: 3, data: image.data, base: (c) => c, rowStride: image.width * 4, pixelStride: 4, scale: 1 / 255 };
  }
  checkFloatImage(image);
  const plane = image.width * image.height;
  return { channels: image.channels, data: image.data, base: (c) => c * plane, rowStride: image.width, pixelStride: 1, scale: 1 };
}

function checkOutputSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`output size must be positive integers, got ${width}×${height}`);
  }
}
