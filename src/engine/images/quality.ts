// Reconstruction quality on [0,1] images (docs/algorithm.md §6, §7.15): MSE, PSNR with peak 1, the "255 on [0,1]"
// compatibility PSNR, and SSIM, each for the raw reconstruction and for the reconstruction clipped to [0,1].
import type { ImageQuality } from '../attack/types';
import type { FloatImage } from './codec';
import { checkFloatImage, clip01 } from './convert';

/** 20·log10(255) ≈ 48.13 dB: what papers that use MAX = 255 on [0,1] data add to the peak-1 PSNR. */
export const PSNR_255_OFFSET = 20 * Math.log10(255);

export function imageQuality(original: FloatImage, reconstructed: FloatImage): ImageQuality {
  checkSameShape(original, reconstructed);
  const raw = mse(original, reconstructed);
  const rawPsnr = psnrFromMse(raw);
  const clipped = clip01(reconstructed);
  const clippedMse = mse(original, clipped);
  return {
    mse: raw,
    psnr: rawPsnr,
    psnr255: rawPsnr + PSNR_255_OFFSET,
    ssim: ssim(original, reconstructed),
    clipped: { mse: clippedMse, psnr: psnrFromMse(clippedMse), ssim: ssim(original, clipped) },
  };
}

/** Mean squared error over all C·H·W values (NaN in the reconstruction gives NaN). */
export function mse(a: FloatImage, b: FloatImage): number {
  checkSameShape(a, b);
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = a.data[i] - b.data[i];
    sum += d * d;
  }
  return sum / a.data.length;
}

/** PSNR = 10·log10(peak² / MSE), peak 1 by default; +Infinity for identical images. */
export function psnrFromMse(meanSquaredError: number, peak = 1): number {
  if (meanSquaredError === 0) return Infinity;
  return 10 * Math.log10((peak * peak) / meanSquaredError);
}

export function psnr(a: FloatImage, b: FloatImage, peak = 1): number {
  return psnrFromMse(mse(a, b), peak);
}

export interface SsimOptions {
  /** Side of the Gaussian window (default 11). */
  windowSize?: number;
  /** Standard deviation of the Gaussian window in pixels (default 1.5). */
  sigma?: number;
  k1?: number;
  k2?: number;
  /** L in C1 = (K1·L)², C2 = (K2·L)² (default 1 for [0,1] images). */
  dataRange?: number;
}

/**
 * Mean SSIM (Wang, Bovik, Sheikh, Simoncelli 2004), averaged over channels. Local statistics use a normalised
 * Gaussian window (11×11, σ 1.5) with weighted population moments, and the map is averaged over the window positions
 * that lie fully inside the image (no padding), as in the paper's reference implementation.
 *
 * Images smaller than the window in a dimension use a window truncated to the image in that dimension (a
 * centred Gaussian of that length, renormalised), so an 8×8 image gives exactly one window position.
 */
export function ssim(a: FloatImage, b: FloatImage, options: SsimOptions = {}): number {
  checkSameShape(a, b);
  const windowSize = options.windowSize ?? 11;
  const sigma = options.sigma ?? 1.5;
  const dataRange = options.dataRange ?? 1;
  const c1 = ((options.k1 ?? 0.01) * dataRange) ** 2;
  const c2 = ((options.k2 ?? 0.03) * dataRange) ** 2;
  const { channels, height, width } = a;
  const wy = gaussianWindow(Math.min(windowSize, height), sigma);
  const wx = gaussianWindow(Math.min(windowSize, width), sigma);
  const plane = height * width;
  let total = 0;
  for (let c = 0; c < channels; c++) {
    const x = a.data.subarray(c * plane, (c + 1) * plane);
    const y = b.data.subarray(c * plane, (c + 1) * plane);
    const xx = new Float64Array(plane);
    const yy = new Float64Array(plane);
    const xy = new Float64Array(plane);
    for (let p = 0; p < plane; p++) {
      xx[p] = x[p] * x[p];
      yy[p] = y[p] * y[p];
      xy[p] = x[p] * y[p];
    }
    const muX = filterValid(x, height, width, wy, wx);
    const muY = filterValid(y, height, width, wy, wx);
    const exx = filterValid(xx, height, width, wy, wx);
    const eyy = filterValid(yy, height, width, wy, wx);
    const exy = filterValid(xy, height, width, wy, wx);
    let sum = 0;
    for (let p = 0; p < muX.length; p++) {
      const mx = muX[p];
      const my = muY[p];
      const varX = exx[p] - mx * mx;
      const varY = eyy[p] - my * my;
      const cov = exy[p] - mx * my;
      sum += ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (varX + varY + c2));
    }
    total += sum / muX.length;
  }
  return total / channels;
}

/** Normalised Gaussian weights exp(−d²/2σ²) at offsets d from the centre of a window of `length` taps. */
export function gaussianWindow(length: number, sigma: number): Float64Array {
  const centre = (length - 1) / 2;
  const w = new Float64Array(length);
  let sum = 0;
  for (let i = 0; i < length; i++) {
    w[i] = Math.exp(-((i - centre) ** 2) / (2 * sigma * sigma));
    sum += w[i];
  }
  for (let i = 0; i < length; i++) w[i] /= sum;
  return w;
}

// Separable weighted sum over every window position fully inside the image ("valid" correlation).
function filterValid(plane: Float64Array, height: number, width: number, wy: Float64Array, wx: Float64Array): Float64Array {
  const outW = width - wx.length + 1;
  const outH = height - wy.length + 1;
  const rows = new Float64Array(height * outW);
  for (let r = 0; r < height; r++) {
    for (let j = 0; j < outW; j++) {
      let s = 0;
      for (let k = 0; k < wx.length; k++) s += wx[k] * plane[r * width + j + k];
      rows[r * outW + j] = s;
    }
  }
  const out = new Float64Array(outH * outW);
  for (let i = 0; i < outH; i++) {
    for (let k = 0; k < wy.length; k++) {
      const w = wy[k];
      const src = (i + k) * outW;
      for (let j = 0; j < outW; j++) out[i * outW + j] += w * rows[src + j];
    }
  }
  return out;
}

function checkSameShape(a: FloatImage, b: FloatImage): void {
  checkFloatImage(a);
  checkFloatImage(b);
  if (a.channels !== b.channels || a.height !== b.height || a.width !== b.width) {
    throw new Error(`images differ in shape: ${a.channels}×${a.height}×${a.width} vs ${b.channels}×${b.height}×${b.width}`);
  }
}
