// Image files in and out: PNG (pngjs) and baseline/progressive JPEG (jpeg-js), recognised by their magic bytes.
// Before any decoder runs, the file's structure is walked (PNG chunks up to IEND, JPEG segments up to EOI) so that
// truncated files, absurd header sizes and unsupported codings fail with a one-line reason instead of a decoder
// stack trace or an out-of-memory crash.
import * as zlib from 'zlib';
import { isFileAccessError, type FileAccess } from '../files/fileAccess';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';

/** 8-bit RGBA pixels, row-major, 4 bytes per pixel (what the decoders give and the PNG encoder takes). */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Float image in the engine's layout: channel-major CHW, values nominally in [0,1] (reconstructions may leave it). */
export interface FloatImage {
  channels: 1 | 3;
  height: number;
  width: number;
  data: Float64Array;
}

export type ImageFormat = 'png' | 'jpeg';

export type ImageReadErrorCode =
  | 'unreadable' // the file system refused (missing file, permissions, a folder)
  | 'empty-file'
  | 'unsupported-format' // neither PNG nor JPEG, or a PNG/JPEG variant the decoders cannot handle
  | 'truncated'
  | 'corrupt'
  | 'too-large'; // over the pixel, memory or file-size limit

export class ImageReadError extends Error {
  constructor(
    readonly code: ImageReadErrorCode,
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'ImageReadError';
  }
}

export interface ImageReadLimits {
  /** Largest accepted width·height (checked from the header, before decoding). */
  maxPixels?: number;
  /** Memory budget handed to the JPEG decoder, in MB. */
  maxMemoryMB?: number;
  /** Largest accepted file, in bytes. */
  maxFileBytes?: number;
}

// 40 MP covers current phone cameras; its RGBA buffer is 160 MB, well inside the decoders' memory budget.
export const DEFAULT_IMAGE_LIMITS: Required<ImageReadLimits> = {
  maxPixels: 40_000_000,
  maxMemoryMB: 512,
  maxFileBytes: 256 * 1024 * 1024,
};

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The format named by the file's first bytes, or undefined. */
export function detectImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/** Reads a PNG or JPEG file into 8-bit RGBA. Throws ImageReadError with the file name and a reason. */
export async function readImage(files: FileAccess, file: string, limits: ImageReadLimits = {}): Promise<RgbaImage> {
  const lim = { ...DEFAULT_IMAGE_LIMITS, ...limits };
  let size: number;
  try {
    const stat = await files.stat(file);
    if (stat.kind !== 'file') throw new ImageReadError('unreadable', file, 'not a regular file');
    size = stat.size;
  } catch (e) {
    if (e instanceof ImageReadError) throw e;
    throw new ImageReadError('unreadable', file, `cannot read the file (${isFileAccessError(e) ? e.reason : (e as Error).message})`);
  }
  if (size > lim.maxFileBytes) {
    throw new ImageReadError('too-large', file, `file is ${formatBytes(size)}, over the ${formatBytes(lim.maxFileBytes)} limit`);
  }
  let bytes: Uint8Array;
  try {
    bytes = await files.readFile(file, lim.maxFileBytes);
  } catch (e) {
    throw new ImageReadError('unreadable', file, `cannot read the file (${isFileAccessError(e) ? e.reason : (e as Error).message})`);
  }
  return decodeImage(bytes, file, lim);
}

/** Decodes PNG or JPEG bytes; `name` only labels errors. */
export function decodeImage(bytes: Uint8Array, name = '<image>', limits: ImageReadLimits = {}): RgbaImage {
  const lim = { ...DEFAULT_IMAGE_LIMITS, ...limits };
  if (bytes.length === 0) throw new ImageReadError('empty-file', name, 'the file is empty');
  if (bytes.length > lim.maxFileBytes) {
    throw new ImageReadError('too-large', name, `file is ${formatBytes(bytes.length)}, over the ${formatBytes(lim.maxFileBytes)} limit`);
  }
  const format = detectImageFormat(bytes);
  if (format === 'png') return decodePng(bytes, name, lim);
  if (format === 'jpeg') return decodeJpeg(bytes, name, lim);
  throw new ImageReadError('unsupported-format', name, `not a PNG or JPEG file (starts with ${hexPrefix(bytes)}); only PNG and JPEG images are supported`);
}

// ---------------------------------------------------------------------------------------------------------------
// PNG

interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
  /** The IDAT payloads, in order (views into the file). */
  idat: Uint8Array[];
}

// Walks the chunk list: IHDR first, every chunk inside the file with a matching CRC, IEND present.
function scanPng(bytes: Uint8Array, name: string, lim: Required<ImageReadLimits>): PngHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 8 + 8 + 13 + 4) throw new ImageReadError('truncated', name, 'PNG ends inside its header');
  const chunkType = (at: number) => String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
  if (view.getUint32(8) !== 13 || chunkType(12) !== 'IHDR') {
    throw new ImageReadError('corrupt', name, 'PNG does not start with a valid IHDR chunk');
  }
  const header: PngHeader = {
    width: view.getUint32(16),
    height: view.getUint32(20),
    bitDepth: bytes[24],
    colorType: bytes[25],
    interlaced: bytes[28] === 1,
    idat: [],
  };
  if (header.width === 0 || header.height === 0 || header.width > 0x7fffffff || header.height > 0x7fffffff) {
    throw new ImageReadError('corrupt', name, `PNG header declares an invalid size ${header.width}×${header.height}`);
  }
  const validDepths: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
  if (!validDepths[header.colorType]?.includes(header.bitDepth)) {
    throw new ImageReadError('unsupported-format', name, `PNG colour type ${header.colorType} with bit depth ${header.bitDepth} is not a valid combination`);
  }
  // Refuse absurd sizes from the header alone, before anything is inflated or allocated.
  checkPixels(header.width, header.height, 'PNG', name, lim);
  let at = 8;
  for (;;) {
    if (at + 8 > bytes.length) throw new ImageReadError('truncated', name, `PNG is truncated at byte ${at} (no IEND chunk)`);
    const length = view.getUint32(at);
    const type = chunkType(at + 4);
    if (at + 12 + length > bytes.length) {
      throw new ImageReadError('truncated', name, `PNG is truncated: chunk ${JSON.stringify(type)} at byte ${at} needs ${length} bytes of data`);
    }
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== view.getUint32(at + 8 + length)) {
      throw new ImageReadError('corrupt', name, `PNG is corrupt: chunk ${JSON.stringify(type)} at byte ${at} fails its CRC check`);
    }
    if (type === 'IDAT') header.idat.push(bytes.subarray(at + 8, at + 8 + length));
    if (type === 'IEND') break;
    at += 12 + length;
  }
  if (header.idat.length === 0) throw new ImageReadError('corrupt', name, 'PNG has no image data (IDAT chunk)');
  return header;
}

// Bytes of filtered scanlines the header implies: one filter byte plus the packed samples per row, per Adam7 pass
// when interlaced.
function expectedScanlineBytes(header: PngHeader): number {
  const samplesPerPixel = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[header.colorType] ?? 1;
  const rowBytes = (w: number) => Math.ceil((w * samplesPerPixel * header.bitDepth) / 8) + 1;
  if (!header.interlaced) return rowBytes(header.width) * header.height;
  const passes = [
    [0, 0, 8, 8],
    [4, 0, 8, 8],
    [0, 4, 4, 8],
    [2, 0, 4, 4],
    [0, 2, 2, 4],
    [1, 0, 2, 2],
    [0, 1, 1, 2],
  ];
  let total = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const w = Math.ceil((header.width - x0) / dx);
    const h = Math.ceil((header.height - y0) / dy);
    if (w > 0 && h > 0) total += rowBytes(w) * h;
  }
  return total;
}

// pngjs's synchronous inflater does not report broken or short deflate streams on current Node: it hands back
// whatever its uninitialised output buffer held. Node's zlib does report them, so the stream is checked here first.
function checkImageData(header: PngHeader, name: string): void {
  const expected = expectedScanlineBytes(header);
  let inflated: Buffer;
  try {
    // Trailing data after the last scanline is tolerated (libpng only warns), within a small margin.
    inflated = zlib.inflateSync(Buffer.concat(header.idat), { maxOutputLength: expected + 65536 });
  } catch (e) {
    const message = decoderMessage(e);
    if (e instanceof RangeError || /larger than/i.test(message)) {
      throw new ImageReadError('corrupt', name, `PNG image data inflates to far more than the ${expected} bytes its header declares`);
    }
    const truncatedStream = /unexpected end/i.test(message);
    throw new ImageReadError(truncatedStream ? 'truncated' : 'corrupt', name, `PNG image data cannot be inflated: ${message}`);
  }
  if (inflated.length < expected) {
    throw new ImageReadError('corrupt', name, `PNG image data inflates to ${inflated.length} bytes; its header declares ${expected}`);
  }
}

// CRC-32 of PNG chunks (ISO 3309 polynomial, reflected 0xEDB88320); zlib.crc32 is missing from older Node/Electron.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function decodePng(bytes: Uint8Array, name: string, lim: Required<ImageReadLimits>): RgbaImage {
  const header = scanPng(bytes, name, lim);
  checkImageData(header, name);
  let png;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { checkCRC: true });
  } catch (e) {
    throw new ImageReadError('corrupt', name, `PNG cannot be decoded: ${decoderMessage(e)}`);
  }
  // pngjs expands palette, grey and grey+alpha to RGBA and rescales 1/2/4/16-bit samples to 8 bits (rounded).
  const data = new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength);
  if (data.length !== png.width * png.height * 4) {
    throw new ImageReadError('corrupt', name, `PNG decoded to ${data.length} bytes, expected ${png.width * png.height * 4}`);
  }
  return { width: png.width, height: png.height, data };
}

// ---------------------------------------------------------------------------------------------------------------
// JPEG

interface JpegHeader {
  width: number;
  height: number;
  components: number;
  /** EXIF orientation 1–8 (1 when absent). */
  orientation: number;
}

// Walks marker segments from SOI to EOI, skipping entropy-coded data after each SOS (FF00 stuffing and RSTn do not
// end a scan). Reaching the end of the file first means the file is truncated.
function scanJpeg(bytes: Uint8Array, name: string, lim: Required<ImageReadLimits>): JpegHeader {
  const n = bytes.length;
  const u16 = (at: number) => (bytes[at] << 8) | bytes[at + 1];
  let frame: { width: number; height: number; components: number; precision: number; marker: number } | undefined;
  let orientation = 1;
  let at = 2;
  for (;;) {
    // Tolerate junk between segments like the decoder does: resynchronise on the next 0xFF.
    while (at < n && bytes[at] !== 0xff) at++;
    while (at < n && bytes[at] === 0xff) at++; // fill bytes
    if (at >= n) throw new ImageReadError('truncated', name, 'JPEG is truncated (no end-of-image marker)');
    const marker = bytes[at++];
    if (marker === 0xd9) break; // EOI
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue; // TEM, RSTn, a stray SOI: no length
    if (at + 2 > n) throw new ImageReadError('truncated', name, `JPEG is truncated inside marker FF${hex2(marker)}`);
    const length = u16(at);
    if (length < 2 || at + length > n) {
      throw new ImageReadError('truncated', name, `JPEG is truncated: segment FF${hex2(marker)} at byte ${at - 2} needs ${length} bytes`);
    }
    const body = at + 2;
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame && !frame && length >= 8) {
      frame = { precision: bytes[body], height: u16(body + 1), width: u16(body + 3), components: bytes[body + 5], marker };
      checkPixels(frame.width, frame.height, 'JPEG', name, lim); // before reading the rest
    } else if (marker === 0xe1 && orientation === 1) {
      orientation = exifOrientation(bytes.subarray(body, at + length));
    }
    at += length;
    if (marker === 0xda) {
      // Entropy-coded data runs to the next marker that is neither stuffing (FF00) nor a restart (FFD0–FFD7).
      for (;;) {
        while (at < n && bytes[at] !== 0xff) at++;
        if (at + 1 >= n) throw new ImageReadError('truncated', name, 'JPEG is truncated inside the compressed image data');
        const next = bytes[at + 1];
        if (next === 0x00 || (next >= 0xd0 && next <= 0xd7) || next === 0xff) {
          at += next === 0xff ? 1 : 2;
          continue;
        }
        break;
      }
    }
  }
  if (!frame) throw new ImageReadError('corrupt', name, 'JPEG has no frame header (SOF marker)');
  // jpeg-js decodes baseline (SOF0), extended sequential (SOF1) and progressive (SOF2) Huffman JPEGs only.
  if (frame.marker > 0xc2) {
    const kind = frame.marker === 0xc3 ? 'lossless' : frame.marker >= 0xc9 ? 'arithmetic-coded' : 'hierarchical';
    throw new ImageReadError(
      'unsupported-format',
      name,
      `${kind} JPEG (SOF marker FF${hex2(frame.marker)}) is not supported; re-save it as baseline JPEG or PNG`,
    );
  }
  if (frame.precision !== 8) throw new ImageReadError('unsupported-format', name, `${frame.precision}-bit JPEG is not supported (8-bit only)`);
  if (frame.width === 0 || frame.height === 0)
    throw new ImageReadError('unsupported-format', name, 'JPEG without a declared size (DNL marker) is not supported');
  if (![1, 3, 4].includes(frame.components)) {
    throw new ImageReadError('unsupported-format', name, `JPEG with ${frame.components} colour components is not supported`);
  }
  return { width: frame.width, height: frame.height, components: frame.components, orientation };
}

// EXIF orientation tag (0x0112) from an APP1 payload "Exif\0\0" + TIFF; 1 when absent or unreadable.
function exifOrientation(app1: Uint8Array): number {
  const tiff = 6;
  if (app1.length < tiff + 8 || String.fromCharCode(...app1.subarray(0, 4)) !== 'Exif') return 1;
  const view = new DataView(app1.buffer, app1.byteOffset, app1.byteLength);
  const order = String.fromCharCode(app1[tiff], app1[tiff + 1]);
  if (order !== 'II' && order !== 'MM') return 1;
  const little = order === 'II';
  const ifd0 = tiff + view.getUint32(tiff + 4, little);
  if (ifd0 + 2 > app1.length) return 1;
  const entries = view.getUint16(ifd0, little);
  for (let i = 0; i < entries; i++) {
    const entry = ifd0 + 2 + i * 12;
    if (entry + 12 > app1.length) return 1;
    if (view.getUint16(entry, little) === 0x0112) {
      const value = view.getUint16(entry + 8, little);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

function decodeJpeg(bytes: Uint8Array, name: string, lim: Required<ImageReadLimits>): RgbaImage {
  const header = scanJpeg(bytes, name, lim);
  let decoded;
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: true,
      tolerantDecoding: true,
      maxResolutionInMP: lim.maxPixels / 1e6,
      maxMemoryUsageInMB: lim.maxMemoryMB,
    });
  } catch (e) {
    const message = decoderMessage(e);
    const code = /limit exceeded|allocate enough memory/i.test(message) ? 'too-large' : 'corrupt';
    throw new ImageReadError(code, name, `JPEG cannot be decoded: ${message}`);
  }
  if (decoded.width !== header.width || decoded.height !== header.height || decoded.data.length !== header.width * header.height * 4) {
    throw new ImageReadError('corrupt', name, 'JPEG decoded to a different size than its header declares');
  }
  return applyOrientation({ width: decoded.width, height: decoded.height, data: decoded.data }, header.orientation);
}

// Turns the stored pixels upright per EXIF orientation (1 = as stored; 2–8 = mirrors and quarter turns).
function applyOrientation(image: RgbaImage, orientation: number): RgbaImage {
  if (orientation <= 1 || orientation > 8) return image;
  const { width: w, height: h, data } = image;
  const transposed = orientation >= 5;
  const outW = transposed ? h : w;
  const outH = transposed ? w : h;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      // Source pixel (sx, sy) shown at (x, y), from the EXIF definitions of the eight orientations.
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2:
          sx = w - 1 - x;
          sy = y;
          break;
        case 3:
          sx = w - 1 - x;
          sy = h - 1 - y;
          break;
        case 4:
          sx = x;
          sy = h - 1 - y;
          break;
        case 5:
          sx = y;
          sy = x;
          break;
        case 6:
          sx = y;
          sy = h - 1 - x;
          break;
        case 7:
          sx = w - 1 - y;
          sy = h - 1 - x;
          break;
        default:
          sx = w - 1 - y;
          sy = x;
          break; // 8
      }
      const from = (sy * w + sx) * 4;
      const to = (y * outW + x) * 4;
      out[to] = data[from];
      out[to + 1] = data[from + 1];
      out[to + 2] = data[from + 2];
      out[to + 3] = data[from + 3];
    }
  }
  return { width: outW, height: outH, data: out };
}

// ---------------------------------------------------------------------------------------------------------------
// PNG output

/**
 * Encodes 8-bit RGBA as PNG, choosing the smallest lossless colour type: grey when R = G = B everywhere, no alpha
 * channel when every pixel is opaque.
 */
export function encodePng(image: RgbaImage): Buffer {
  checkRgba(image);
  const { width, height, data } = image;
  const pixels = width * height;
  let grey = true;
  let opaque = true;
  for (let p = 0; p < pixels * 4; p += 4) {
    if (data[p] !== data[p + 1] || data[p] !== data[p + 2]) grey = false;
    if (data[p + 3] !== 255) opaque = false;
    if (!grey && !opaque) break;
  }
  const colorType = grey ? (opaque ? 0 : 4) : opaque ? 2 : 6;
  const bytesPerPixel = { 0: 1, 2: 3, 4: 2, 6: 4 }[colorType];
  const packed = Buffer.alloc(pixels * bytesPerPixel);
  for (let p = 0, q = 0; p < pixels * 4; p += 4) {
    packed[q++] = data[p];
    if (!grey) {
      packed[q++] = data[p + 1];
      packed[q++] = data[p + 2];
    }
    if (!opaque) packed[q++] = data[p + 3];
  }
  // pngjs packs metadata {width, height, data}; with inputColorType = colorType it writes the bytes unchanged.
  const png = { width, height, data: packed } as unknown as PNG;
  return PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: !opaque, bitDepth: 8, deflateLevel: 9 });
}

/** Float CHW → opaque 8-bit RGBA, clipped to [0,1] and rounded; grey is shown as grey RGB. */
export function floatImageToRgba(image: FloatImage): RgbaImage {
  const { width, height, channels, data } = image;
  const plane = width * height;
  if ((channels !== 1 && channels !== 3) || data.length !== channels * plane) {
    throw new Error(`float image ${channels}×${height}×${width} is malformed (${data.length} values)`);
  }
  const out = new Uint8Array(plane * 4);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[p * 4 + c] = Math.round(clip01Value(data[(channels === 1 ? 0 : c) * plane + p]) * 255);
    out[p * 4 + 3] = 255;
  }
  return { width, height, data: out };
}

/** Clamps to [0,1]; NaN becomes 0 (what a display shows for a value that is not a number). */
export function clip01Value(v: number): number {
  return v >= 1 ? 1 : v > 0 ? v : 0;
}

// ---------------------------------------------------------------------------------------------------------------
// helpers

export function checkRgba(image: RgbaImage): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`invalid image size ${width}×${height}`);
  }
  if (data.length !== width * height * 4) {
    throw new Error(`RGBA image ${width}×${height} needs ${width * height * 4} bytes, has ${data.length}`);
  }
}

function checkPixels(width: number, height: number, kind: string, name: string, lim: Required<ImageReadLimits>): void {
  const pixels = width * height;
  if (pixels > lim.maxPixels) {
    throw new ImageReadError(
      'too-large',
      name,
      `${kind} header declares ${width}×${height} = ${(pixels / 1e6).toFixed(1)} MP, over the ${(lim.maxPixels / 1e6).toFixed(1)} MP limit`,
    );
  }
}

function decoderMessage(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.split('\n')[0] || 'unknown decoder error';
}

function hex2(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, '0');
}

function hexPrefix(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 8), hex2).join(' ');
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MB` : `${n} bytes`;
}
