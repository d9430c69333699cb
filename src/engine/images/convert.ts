// Conversions between 8-bit RGBA (files) and float CHW images (engine), and between grey and RGB.
import { checkRgba, clip01Value, type FloatImage, type RgbaImage } from './codec';

// ITU-R BT.601 luma weights, the usual "convert to L" weights (PIL, OpenCV): models trained on greyscale data saw these.
export const LUMA_WEIGHTS = [0.299, 0.587, 0.114] as const;

export function isRgbaImage(image: FloatImage | RgbaImage): image is RgbaImage {
  return !('channels' in image);
}

export function checkFloatImage(image: FloatImage): void {
  const { channels, height, width, data } = image;
  if (channels !== 1 && channels !== 3) throw new Error(`float image must have 1 or 3 channels, has ${channels}`);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`invalid image size ${width}×${height}`);
  }
  if (data.length !== channels * height * width) {
    throw new Error(`float image ${channels}×${height}×${width} needs ${channels * height * width} values, has ${data.length}`);
  }
}

/** RGBA bytes → float CHW in [0,1]. Alpha is dropped (as PIL's convert('RGB') does), not composited. */
export function rgbaToFloat(image: RgbaImage, channels: 1 | 3 = 3): FloatImage {
  checkRgba(image);
  const { width, height, data } = image;
  const plane = width * height;
  const out = new Float64Array(channels * plane);
  for (let p = 0; p < plane; p++) {
    const r = data[p * 4] / 255;
    const g = data[p * 4 + 1] / 255;
    const b = data[p * 4 + 2] / 255;
    if (channels === 1) {
      out[p] = LUMA_WEIGHTS[0] * r + LUMA_WEIGHTS[1] * g + LUMA_WEIGHTS[2] * b;
    } else {
      out[p] = r;
      out[plane + p] = g;
      out[2 * plane + p] = b;
    }
  }
  return { channels, height, width, data: out };
}

/** Grey → RGB by replication, RGB → grey by luma; same image when the channel count already matches. */
export function toChannels(image: FloatImage, channels: 1 | 3): FloatImage {
  checkFloatImage(image);
  if (image.channels === channels) return image;
  const plane = image.width * image.height;
  const out = new Float64Array(channels * plane);
  if (channels === 3) {
    for (let c = 0; c < 3; c++) out.set(image.data, c * plane);
  } else {
    const d = image.data;
    for (let p = 0; p < plane; p++) {
      out[p] = LUMA_WEIGHTS[0] * d[p] + LUMA_WEIGHTS[1] * d[plane + p] + LUMA_WEIGHTS[2] * d[2 * plane + p];
    }
  }
  return { channels, height: image.height, width: image.width, data: out };
}

export function clip01(image: FloatImage): FloatImage {
  return { ...image, data: image.data.map(clip01Value) };
}
