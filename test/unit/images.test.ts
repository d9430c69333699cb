// Images for the attack: decoding (real PNG/JPEG photos, every PNG colour type and bit depth, broken files),
// resizing against Lanczos reference copies, model input ↔ image round trips, the quality metrics of
// docs/algorithm.md §6 / §8.6, and the side-by-side picture. Broken copies live in a temp dir.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import * as jpeg from 'jpeg-js';
import { bundledSamplesFolder } from '../../src/node/bundle';
import { files } from './files';
import type { InputNormalization } from '../../src/engine/attack/types';
import { createRng } from '../../src/engine/numerics/random';
import {
  centerCropBox,
  centerCropResize,
  cropResize,
  decodeImage,
  detectImageFormat,
  encodePng,
  fitImageToInput,
  floatImageToRgba,
  imageQuality,
  imageToModelInput,
  ImageReadError,
  loadImageFiles,
  loadSampleImages,
  modelInputToImage,
  nearestUpscale,
  psnr,
  PSNR_255_OFFSET,
  readImage,
  rgbaToFloat,
  sideBySide,
  ssim,
  toChannels,
  type FloatImage,
  type ImageReadErrorCode,
  type RgbaImage,
} from '../../src/engine/images';

const SAMPLES = path.resolve(__dirname, '../fixtures/sample-images');
const ORIGINALS = path.join(SAMPLES, 'original');
const LANCZOS_32 = path.join(SAMPLES, '32x32');
const IMAGENET: InputNormalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

const tempDirs: string[] = [];
after(() => tempDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-images-'));
  tempDirs.push(dir);
  return dir;
}

const decoded = new Map<string, RgbaImage>();
function original(name: string): RgbaImage {
  if (!decoded.has(name)) decoded.set(name, readImageSync(path.join(ORIGINALS, name)));
  return decoded.get(name)!;
}

/** A PNG/JPEG file decoded (the tests' own synchronous read; readImage's file handling is tested on its own). */
function readImageSync(file: string): RgbaImage {
  return decodeImage(fs.readFileSync(file), file);
}

async function assertReadError(fn: () => unknown, code: ImageReadErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(
    async () => fn(),
    (e: unknown) => {
      assert.ok(e instanceof ImageReadError, `expected ImageReadError, got ${String(e)}`);
      assert.equal(e.code, code, e.message);
      assert.match(e.message, message);
      return true;
    },
  );
}

/** Deterministic uniform [0,1) numbers (the engine's seeded generator). */
function random(seed: number): () => number {
  const rng = createRng(seed);
  return () => rng.uniform();
}

function floatImage(channels: 1 | 3, height: number, width: number, values: ArrayLike<number> | ((i: number) => number)): FloatImage {
  const n = channels * height * width;
  const data = typeof values === 'function' ? Float64Array.from({ length: n }, (_, i) => values(i)) : Float64Array.from(values);
  assert.equal(data.length, n);
  return { channels, height, width, data };
}

// ---------------------------------------------------------------------------------------------------------------
// A minimal PNG writer for colour types and depths our encoder never produces (CRC from node:zlib, independent of
// the reader's own CRC).

function pngChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

function buildPng(width: number, height: number, bitDepth: number, colorType: number, rows: number[][], extraChunks: Buffer[] = []): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([bitDepth, colorType, 0, 0, 0], 8);
  const raw = Buffer.from(rows.flatMap((row) => [0 /* filter: none */, ...row]));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    ...extraChunks,
    pngChunk('IDAT', zlib.deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

const u16 = (v: number) => [v >> 8, v & 0xff];

// ---------------------------------------------------------------------------------------------------------------

describe('decoding', () => {
  it('reads the PNG and JPEG originals (RGB, greyscale, EXIF JPEG) at their header size', async () => {
    const expected: Record<string, [number, number]> = {
      'astronaut.png': [512, 512],
      'camera.png': [512, 512],
      'chelsea.png': [451, 300],
      'coffee.png': [600, 400],
      'hubble_deep_field.jpg': [1000, 872],
      'retina.jpg': [1411, 1411],
      'rocket.jpg': [640, 427],
    };
    for (const [name, [width, height]] of Object.entries(expected)) {
      const image = original(name);
      assert.deepEqual([image.width, image.height, image.data.length], [width, height, width * height * 4], name);
      assert.ok(
        image.data.some((v, i) => i % 4 !== 3 && v > 0),
        `${name} is not blank`,
      );
    }
    // The greyscale PNG comes out as grey RGBA.
    const camera = original('camera.png');
    for (let p = 0; p < camera.data.length; p += 4 * 997) {
      assert.equal(camera.data[p], camera.data[p + 1]);
      assert.equal(camera.data[p], camera.data[p + 2]);
      assert.equal(camera.data[p + 3], 255);
    }
  });

  it('detects the format from magic bytes, not the extension', async () => {
    const dir = tempDir();
    const pngAsJpg = path.join(dir, 'really-a-png.jpg');
    const jpgAsPng = path.join(dir, 'really-a-jpeg.png');
    fs.copyFileSync(path.join(ORIGINALS, 'chelsea.png'), pngAsJpg);
    fs.copyFileSync(path.join(ORIGINALS, 'rocket.jpg'), jpgAsPng);
    assert.deepEqual(readImageSync(pngAsJpg).data, original('chelsea.png').data);
    assert.deepEqual(readImageSync(jpgAsPng).data, original('rocket.jpg').data);
    assert.equal(detectImageFormat(fs.readFileSync(pngAsJpg)), 'png');
    assert.equal(detectImageFormat(fs.readFileSync(jpgAsPng)), 'jpeg');
    assert.equal(detectImageFormat(Buffer.from('GIF89a')), undefined);
  });

  it('expands every PNG colour type and bit depth to 8-bit RGBA (16-bit rounded, palette, tRNS, 1-bit grey)', async () => {
    // 16-bit RGB: 0x8080 → 128, 0x7FFF → 127 (32767·255/65535 = 127.498), 0x0101 → 1.
    const rgb16 = buildPng(2, 1, 16, 2, [[...u16(0xffff), ...u16(0), ...u16(0x8080), ...u16(0x0101), ...u16(0x7fff), ...u16(0)]]);
    assert.deepEqual([...decodeImage(rgb16).data], [255, 0, 128, 255, 1, 127, 0, 255]);
    // 16-bit grey + alpha.
    const greyAlpha16 = buildPng(1, 1, 16, 4, [[...u16(0x8080), ...u16(0xffff)]]);
    assert.deepEqual([...decodeImage(greyAlpha16).data], [128, 128, 128, 255]);
    // 16-bit RGBA.
    const rgba16 = buildPng(1, 1, 16, 6, [[...u16(0xffff), ...u16(0x8080), ...u16(0), ...u16(0x8080)]]);
    assert.deepEqual([...decodeImage(rgba16).data], [255, 128, 0, 128]);
    // 2-bit palette with a transparency entry: indices 0,1,2,1 packed MSB first in one byte.
    const palette = pngChunk('PLTE', Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255]));
    const trns = pngChunk('tRNS', Buffer.from([255, 0]));
    const indexed = buildPng(4, 1, 2, 3, [[0b00011001]], [palette, trns]);
    assert.deepEqual([...decodeImage(indexed).data], [255, 0, 0, 255, 0, 255, 0, 0, 0, 0, 255, 255, 0, 255, 0, 0]);
    // Adam7-interlaced 3×3 grey: the pixels arrive pass by pass (pass 1: (0,0); 4: (2,0); 5: (0,2),(2,2);
    // 6: (1,0),(1,2); 7: row 1). Value = 10·(3y + x).
    const v = (x: number, y: number) => 10 * (3 * y + x);
    const interlaced = buildPng(3, 3, 8, 0, [[v(0, 0)], [v(2, 0)], [v(0, 2), v(2, 2)], [v(1, 0)], [v(1, 2)], [v(0, 1), v(1, 1), v(2, 1)]]);
    interlaced[8 + 8 + 12] = 1; // interlace method in IHDR
    const fixed = Buffer.concat([interlaced.subarray(0, 8), pngChunk('IHDR', interlaced.subarray(16, 29)), interlaced.subarray(33)]);
    assert.deepEqual(
      [...decodeImage(fixed).data].filter((_, i) => i % 4 === 0),
      [0, 10, 20, 30, 40, 50, 60, 70, 80],
    );
    // 1-bit grey, two rows.
    const bilevel = buildPng(8, 2, 1, 0, [[0b10100000], [0b00000001]]);
    const bits = [...decodeImage(bilevel).data].filter((_, i) => i % 4 === 0);
    assert.deepEqual(bits, [255, 0, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255]);
  });

  it('turns EXIF-rotated JPEGs upright', async () => {
    // 16×8, left half black, right half white; orientation 6 means "rotate 90° clockwise to display".
    const width = 16;
    const height = 8;
    const pixels = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels.set(x < 8 ? [0, 0, 0, 255] : [255, 255, 255, 255], (y * width + x) * 4);
    const plain = jpeg.encode({ width, height, data: pixels }, 95).data;
    const tiff = Buffer.from([0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
    const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
    const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]), payload]);
    const rotated = Buffer.concat([plain.subarray(0, 2), app1, plain.subarray(2)]);
    const upright = decodeImage(plain);
    assert.deepEqual([upright.width, upright.height], [16, 8]);
    const image = decodeImage(rotated);
    assert.deepEqual([image.width, image.height], [8, 16]);
    // The left (black) half of the stored image becomes the top half.
    assert.ok(image.data[(2 * 8 + 4) * 4] < 40, 'top is dark');
    assert.ok(image.data[(13 * 8 + 4) * 4] > 215, 'bottom is bright');
  });

  it('encodes PNG losslessly with the smallest colour type', async () => {
    const rand = random(7);
    const rgba: RgbaImage = { width: 5, height: 3, data: Uint8Array.from({ length: 60 }, () => Math.floor(rand() * 256)) };
    const opaque: RgbaImage = { ...rgba, data: rgba.data.map((v, i) => (i % 4 === 3 ? 255 : v)) };
    const grey: RgbaImage = { ...rgba, data: opaque.data.map((v, i) => (i % 4 === 3 ? 255 : opaque.data[i - (i % 4)])) };
    for (const [image, colourType] of [
      [rgba, 6],
      [opaque, 2],
      [grey, 0],
    ] as const) {
      const bytes = encodePng(image);
      assert.equal(bytes[25], colourType, 'IHDR colour type');
      assert.deepEqual(decodeImage(bytes), { width: image.width, height: image.height, data: new Uint8Array(image.data) });
    }
    const file = path.join(tempDir(), 'out.png');
    fs.writeFileSync(file, encodePng(grey));
    assert.deepEqual(readImageSync(file).data, grey.data);
  });
});

describe('broken and oversized files', () => {
  const png = fs.readFileSync(path.join(ORIGINALS, 'chelsea.png'));
  const jpg = fs.readFileSync(path.join(ORIGINALS, 'rocket.jpg'));

  it('names the file and the problem for truncated and corrupt PNG', async () => {
    const dir = tempDir();
    const truncated = path.join(dir, 'truncated.png');
    fs.writeFileSync(truncated, png.subarray(0, png.length >> 1));
    await assertReadError(() => readImage(files, truncated), 'truncated', /truncated\.png: PNG is truncated: chunk "IDAT"/);
    await assertReadError(() => decodeImage(png.subarray(0, 20), 'short.png'), 'truncated', /ends inside its header/);
    await assertReadError(() => decodeImage(png.subarray(0, png.length - 12), 'no-iend.png'), 'truncated', /no IEND/);
    const flipped = Buffer.from(png);
    flipped[png.length >> 1] ^= 0xff;
    await assertReadError(() => decodeImage(flipped, 'flipped.png'), 'corrupt', /flipped\.png: PNG is corrupt: chunk "IDAT" .* fails its CRC check/);
    // Valid chunks around a broken or short compressed stream (pngjs alone would return uninitialised memory).
    const head = buildPng(2, 2, 8, 0, []).subarray(0, 33);
    const withIdat = (idat: Uint8Array) => Buffer.concat([head, pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
    await assertReadError(
      () => decodeImage(withIdat(Buffer.from('not deflate data')), 'garbage.png'),
      'corrupt',
      /garbage\.png: PNG image data cannot be inflated: /,
    );
    await assertReadError(
      () => decodeImage(withIdat(zlib.deflateSync(Buffer.from([0, 1]))), 'short.png'),
      'corrupt',
      /inflates to 2 bytes; its header declares 6/,
    );
    await assertReadError(
      () => decodeImage(withIdat(zlib.deflateSync(Buffer.from([0, 1, 2, 0, 3, 4])).subarray(0, 6)), 'cut.png'),
      'truncated',
      /cannot be inflated: unexpected end of file/,
    );
    // An unknown filter type inside a valid stream: pngjs's own reason is passed on.
    await assertReadError(
      () => decodeImage(withIdat(zlib.deflateSync(Buffer.from([9, 1, 2, 0, 3, 4]))), 'filter.png'),
      'corrupt',
      /filter\.png: PNG cannot be decoded: .*filter/i,
    );
  });

  it('names the file and the problem for truncated and corrupt JPEG', async () => {
    await assertReadError(
      () => decodeImage(jpg.subarray(0, jpg.length >> 1), 'half.jpg'),
      'truncated',
      /half\.jpg: JPEG is truncated inside the compressed image data/,
    );
    await assertReadError(() => decodeImage(jpg.subarray(0, 40), 'head.jpg'), 'truncated', /JPEG is truncated/);
    await assertReadError(() => decodeImage(Buffer.from([0xff, 0xd8, 0xff, 0xd9]), 'bare.jpg'), 'corrupt', /no frame header/);
    const badTables = Buffer.from(jpg);
    const dht = badTables.indexOf(Buffer.from([0xff, 0xc4]));
    badTables.fill(0x7f, dht + 5, dht + 25);
    await assertReadError(() => decodeImage(badTables, 'tables.jpg'), 'corrupt', /tables\.jpg: JPEG cannot be decoded: /);
    // Lossless JPEG: recognised and refused by name.
    const lossless = Buffer.from(jpg);
    lossless[lossless.indexOf(Buffer.from([0xff, 0xc0])) + 1] = 0xc3;
    await assertReadError(() => decodeImage(lossless, 'lossless.jpg'), 'unsupported-format', /lossless JPEG/);
  });

  it('refuses other formats, empty and missing files', async () => {
    const dir = tempDir();
    const text = path.join(dir, 'notes.png');
    fs.writeFileSync(text, 'not an image');
    await assertReadError(() => readImage(files, text), 'unsupported-format', /notes\.png: not a PNG or JPEG file/);
    const empty = path.join(dir, 'empty.jpg');
    fs.writeFileSync(empty, '');
    await assertReadError(() => readImage(files, empty), 'empty-file', /empty/);
    await assertReadError(() => readImage(files, path.join(dir, 'missing.png')), 'unreadable', /cannot read/);
    await assertReadError(() => readImage(files, dir), 'unreadable', /not a regular file/);
  });

  it('refuses a PNG whose header claims a huge size before decoding it', async () => {
    // 100 000 × 100 000 = 10 GP declared, 30 bytes of data: decoding would try to allocate 40 GB.
    const huge = buildPng(100_000, 100_000, 8, 6, [[1, 2, 3, 4]]);
    const started = process.hrtime.bigint();
    await assertReadError(
      () => decodeImage(huge, 'bomb.png'),
      'too-large',
      /bomb\.png: PNG header declares 100000×100000 = 10000\.0 MP, over the 40\.0 MP limit/,
    );
    assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 50, 'refused without decoding');
    // A JPEG whose frame header claims 60000×60000.
    const big = Buffer.from(jpg);
    const sof = big.indexOf(Buffer.from([0xff, 0xc0]));
    big.set([0xea, 0x60, 0xea, 0x60], sof + 5);
    await assertReadError(() => decodeImage(big, 'big.jpg'), 'too-large', /JPEG header declares 60000×60000/);
    // Limits are configurable.
    await assertReadError(() => readImage(files, path.join(ORIGINALS, 'chelsea.png'), { maxPixels: 100_000 }), 'too-large', /0\.1 MP limit/);
    await assertReadError(() => readImage(files, path.join(ORIGINALS, 'rocket.jpg'), { maxFileBytes: 1000 }), 'too-large', /over the 1000 bytes limit/);
  });
});

describe('resizing', () => {
  it('agrees with the Lanczos 32×32 reference copies (PSNR > 25 dB)', async (t) => {
    const lines: string[] = [];
    for (const file of fs.readdirSync(ORIGINALS).sort()) {
      const ours = centerCropResize(original(file), 32, 32);
      const reference = rgbaToFloat(readImageSync(path.join(LANCZOS_32, file.replace(/\.(png|jpe?g)$/, '.png'))), 3);
      const db = psnr(reference, ours);
      lines.push(`${file}: ${db.toFixed(2)} dB, SSIM ${ssim(reference, ours).toFixed(3)}`);
      assert.ok(db > 25, `${file}: PSNR ${db.toFixed(2)} dB vs the Lanczos copy`);
    }
    t.diagnostic(`area-average vs Lanczos 32×32: ${lines.join('; ')}`);
  });

  it('centre-crops to the target aspect ratio', async () => {
    assert.deepEqual(centerCropBox(451, 300, 32, 32), { x: 75.5, y: 0, width: 300, height: 300 });
    assert.deepEqual(centerCropBox(300, 600, 32, 32), { x: 0, y: 150, width: 300, height: 300 });
    assert.deepEqual(centerCropBox(640, 480, 64, 32), { x: 0, y: 80, width: 640, height: 320 });
  });

  it('averages areas with fractional coverage when downscaling', async () => {
    // 4×4 → 2×2: exact block means.
    const block = floatImage(1, 4, 4, (i) => i);
    assert.deepEqual([...centerCropResize(block, 2, 2).data], [2.5, 4.5, 10.5, 12.5]);
    // 3 → 2 along x: each output covers 1.5 source pixels.
    const row = floatImage(1, 1, 3, [0.3, 0.6, 0.9]);
    const out = cropResize(row, { x: 0, y: 0, width: 3, height: 1 }, 2, 1).data;
    assert.ok(Math.abs(out[0] - (0.3 + 0.5 * 0.6) / 1.5) < 1e-15);
    assert.ok(Math.abs(out[1] - (0.5 * 0.6 + 0.9) / 1.5) < 1e-15);
    // Same size is the identity; constants stay constant; the mean survives an exact downscale.
    const rand = random(3);
    const noise = floatImage(3, 12, 18, () => rand());
    assert.deepEqual(centerCropResize(noise, 18, 12).data, noise.data);
    const constant = centerCropResize(
      floatImage(3, 37, 53, () => 0.25),
      7,
      5,
    );
    assert.ok(constant.data.every((v) => Math.abs(v - 0.25) < 1e-15));
    const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;
    assert.ok(Math.abs(mean(centerCropResize(noise, 6, 4).data) - mean(noise.data)) < 1e-14);
  });

  it('interpolates bilinearly when upscaling and handles RGBA sources like float ones', async () => {
    const up = centerCropResize(floatImage(1, 1, 2, [0, 1]), 4, 1).data;
    assert.deepEqual([...up], [0, 0.25, 0.75, 1]);
    const rgba = original('coffee.png');
    const viaFloat = centerCropResize(rgbaToFloat(rgba, 3), 40, 24);
    const direct = centerCropResize(rgba, 40, 24);
    assert.ok(direct.data.every((v, i) => Math.abs(v - viaFloat.data[i]) < 1e-12));
  });

  it('enlarges with nearest neighbour for display', async () => {
    const tiny = floatImage(1, 1, 2, [0.1, 0.9]);
    assert.deepEqual([...nearestUpscale(tiny, 2).data], [0.1, 0.1, 0.9, 0.9, 0.1, 0.1, 0.9, 0.9]);
    const rgba: RgbaImage = { width: 1, height: 1, data: Uint8Array.from([1, 2, 3, 4]) };
    assert.deepEqual([...nearestUpscale(rgba, 2).data], [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4]);
    assert.throws(() => nearestUpscale(tiny, 1.5), /integer/);
  });
});

describe('model input', () => {
  it('round-trips image → normalised input → image (RGB and greyscale)', async () => {
    const photo = original('astronaut.png');
    const cases: [[number, number, number], InputNormalization][] = [
      [[3, 32, 32], IMAGENET],
      [[1, 28, 28], { mean: [0.5], std: [0.5] }],
      [[3, 32, 32], { mean: [0.5], std: [1] }], // hybrid code: ToTensor() − 0.5
    ];
    for (const [shape, norm] of cases) {
      const image = fitImageToInput(photo, shape);
      const x = imageToModelInput(photo, shape, norm);
      assert.equal(x.length, shape[0] * shape[1] * shape[2]);
      const back = modelInputToImage(x, shape, norm);
      assert.deepEqual([back.channels, back.height, back.width], shape);
      assert.ok(back.data.every((v, i) => Math.abs(v - image.data[i]) < 1e-12));
      // x = (image − mean[c]) / std[c] at a pixel of the last channel.
      const c = shape[0] - 1;
      const p = c * shape[1] * shape[2] + 77;
      const mean = norm.mean.length === 1 ? norm.mean[0] : norm.mean[c];
      const std = norm.std.length === 1 ? norm.std[0] : norm.std[c];
      assert.ok(Math.abs(x[p] - (image.data[p] - mean) / std) < 1e-15);
    }
  });

  it('uses BT.601 luma for one-channel inputs and replicates grey for three', async () => {
    const pixel: RgbaImage = { width: 1, height: 1, data: Uint8Array.from([255, 0, 0, 255]) };
    assert.ok(Math.abs(imageToModelInput(pixel, [1, 1, 1], { mean: [0], std: [1] })[0] - 0.299) < 1e-15);
    const grey = floatImage(1, 1, 1, [0.4]);
    assert.deepEqual([...imageToModelInput(grey, [3, 1, 1], { mean: [0], std: [1] })], [0.4, 0.4, 0.4]);
    assert.ok(Math.abs(toChannels(toChannels(grey, 3), 1).data[0] - 0.4) < 1e-15);
  });

  it('rejects unusable shapes and normalisations with a reason', async () => {
    const image = floatImage(3, 4, 4, () => 0.5);
    assert.throws(() => imageToModelInput(image, [4, 4, 4], IMAGENET), /4 channels; images can only feed 1-channel \(greyscale\) or 3-channel \(RGB\)/);
    assert.throws(() => imageToModelInput(image, [3, 4], IMAGENET), /\[C, H, W\]/);
    assert.throws(() => imageToModelInput(image, [1, 4, 4], IMAGENET), /mean has 3 values; the model input has 1 channel/);
    assert.throws(() => imageToModelInput(image, [3, 4, 4], { mean: [0], std: [0] }), /std must be non-zero/);
    assert.throws(() => modelInputToImage(new Float64Array(5), [3, 4, 4], IMAGENET), /has 5 values; shape \[3, 4, 4\] needs 48/);
  });

  it('loads the bundled samples sorted by name, skipping other files', async () => {
    const folder = bundledSamplesFolder();
    assert.equal(folder, path.resolve(__dirname, '../../media/samples'));
    const samples = await loadSampleImages(files, folder, [3, 32, 32], IMAGENET);
    assert.deepEqual(
      samples.map((s) => s.name),
      ['astronaut.png', 'camera.png', 'chelsea.png', 'coffee.png', 'hubble_deep_field.png', 'retina.png', 'rocket.png'],
    );
    for (const s of samples) {
      assert.deepEqual([s.image.channels, s.image.height, s.image.width, s.input.length], [3, 32, 32, 3072]);
      assert.ok(s.image.data.every((v) => v >= 0 && v <= 1));
    }
    assert.equal((await loadSampleImages(files, folder, [1, 28, 28], { mean: [0.5], std: [0.5] }, { limit: 2 })).length, 2);
    // The bundled samples are 224×224 and small.
    const bytes = fs
      .readdirSync(folder)
      .filter((f) => f.endsWith('.png'))
      .reduce((n, f) => n + fs.statSync(path.join(folder, f)).size, 0);
    assert.ok(bytes < 1024 * 1024, `${bytes} bytes`);
    assert.deepEqual([readImageSync(path.join(folder, 'rocket.png')).width, readImageSync(path.join(folder, 'rocket.png')).height], [224, 224]);
  });

  it('reads only .png/.jpg/.jpeg files of a folder and errors on an empty one', async () => {
    const dir = tempDir();
    fs.copyFileSync(path.join(ORIGINALS, 'rocket.jpg'), path.join(dir, 'b.JPEG'));
    fs.copyFileSync(path.join(ORIGINALS, 'chelsea.png'), path.join(dir, 'a.png'));
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'hello');
    fs.writeFileSync(path.join(dir, 'picture.gif'), 'GIF89a');
    fs.mkdirSync(path.join(dir, 'folder.png'));
    const loaded = await loadSampleImages(files, dir, [3, 16, 16], IMAGENET);
    assert.deepEqual(
      loaded.map((s) => s.name),
      ['a.png', 'b.JPEG'],
    );
    assert.deepEqual(
      (await loadImageFiles(files, [path.join(dir, 'b.JPEG')], [3, 16, 16], IMAGENET)).map((s) => s.name),
      ['b.JPEG'],
    );
    const empty = tempDir();
    fs.writeFileSync(path.join(empty, 'readme.md'), '#');
    await assert.rejects(() => loadSampleImages(files, empty, [3, 16, 16], IMAGENET), /no PNG or JPEG images \(\.png, \.jpg, \.jpeg\) in /);
    await assert.rejects(() => loadSampleImages(files, path.join(empty, 'nope'), [3, 16, 16], IMAGENET), /cannot read the image folder/);
  });
});

describe('quality metrics', () => {
  let x: FloatImage; // astronaut
  before(async () => {
    x = (await loadSampleImages(files, bundledSamplesFolder(), [3, 32, 32], IMAGENET, { limit: 1 }))[0].image;
  });

  it('PSNR: identical = +∞, constant error 0.1 = 20 dB (68.13 dB in the "255 on [0,1]" convention)', async () => {
    const same = imageQuality(x, x);
    assert.equal(same.mse, 0);
    assert.equal(same.psnr, Infinity);
    assert.equal(same.psnr255, Infinity);
    assert.equal(same.clipped.psnr, Infinity);
    const shifted = { ...x, data: x.data.map((v) => v + 0.1) };
    const q = imageQuality(x, shifted);
    assert.ok(Math.abs(q.mse - 0.01) < 1e-15);
    assert.ok(Math.abs(q.psnr - 20) < 1e-12);
    assert.equal(q.psnr255.toFixed(2), '68.13');
    assert.equal(PSNR_255_OFFSET.toFixed(2), '48.13');
    // Clipping the shifted image to [0,1] can only bring it closer to an image in [0,1].
    assert.ok(q.clipped.mse <= q.mse && q.clipped.psnr >= q.psnr);
  });

  it('SSIM is 1 for identical images, symmetric, and falls as noise grows', async () => {
    assert.equal(ssim(x, x), 1);
    const rand = random(11);
    let previous = 1;
    for (const level of [0.02, 0.1, 0.3]) {
      const noisy = { ...x, data: x.data.map((v) => v + level * (rand() - 0.5) * 2) };
      const value = ssim(x, noisy);
      assert.ok(Math.abs(value - ssim(noisy, x)) < 1e-14, 'symmetric');
      assert.ok(value < previous, `noise ${level}: SSIM ${value} < ${previous}`);
      previous = value;
    }
    assert.ok(previous < 0.8, `SSIM at noise ±0.3: ${previous}`);
  });

  it('SSIM against a constant image matches the formula computed directly', async () => {
    // SSIM(x, c) with y constant: μy = c, σy = σxy = 0 ⇒ (2μx c + C1)·C2 / ((μx² + c² + C1)(σx² + C2)).
    const c1 = 0.01 ** 2;
    const c2 = 0.03 ** 2;
    const expected = (pixels: number[][], c: number, wy: number[], wx: number[]) => {
      let muX = 0;
      let total = 0;
      for (let i = 0; i < wy.length; i++)
        for (let j = 0; j < wx.length; j++) {
          muX += wy[i] * wx[j] * pixels[i][j];
          total += wy[i] * wx[j];
        }
      muX /= total;
      let varX = 0;
      for (let i = 0; i < wy.length; i++) for (let j = 0; j < wx.length; j++) varX += (wy[i] * wx[j] * (pixels[i][j] - muX) ** 2) / total;
      return ((2 * muX * c + c1) * c2) / ((muX * muX + c * c + c1) * (varX + c2));
    };
    const gauss = (n: number) => Array.from({ length: n }, (_, i) => Math.exp(-((i - (n - 1) / 2) ** 2) / (2 * 1.5 * 1.5)));
    const rand = random(5);

    // 4×5 image (smaller than the 11×11 window): window truncated to 4×5, one position.
    const small = Array.from({ length: 4 }, () => Array.from({ length: 5 }, () => rand()));
    const got = ssim(
      floatImage(1, 4, 5, small.flat()),
      floatImage(1, 4, 5, () => 0.3),
    );
    assert.ok(Math.abs(got - expected(small, 0.3, gauss(4), gauss(5))) < 1e-12, `${got}`);

    // 11×12 image: full 11×11 window, two positions averaged.
    const wide = Array.from({ length: 11 }, () => Array.from({ length: 12 }, () => rand()));
    const positions = [0, 1].map((dx) =>
      expected(
        wide.map((r) => r.slice(dx, dx + 11)),
        0.7,
        gauss(11),
        gauss(11),
      ),
    );
    const gotWide = ssim(
      floatImage(1, 11, 12, wide.flat()),
      floatImage(1, 11, 12, () => 0.7),
    );
    assert.ok(Math.abs(gotWide - (positions[0] + positions[1]) / 2) < 1e-12, `${gotWide}`);
  });

  it('reports raw and clipped metrics, and refuses mismatched shapes', async () => {
    const overshoot = { ...x, data: x.data.map((v, i) => (i % 7 === 0 ? v + 2 : v)) };
    const q = imageQuality(x, overshoot);
    assert.ok(q.clipped.mse < q.mse && q.clipped.ssim > q.ssim);
    assert.ok(Math.abs(q.psnr255 - q.psnr - 48.1308036) < 1e-6);
    assert.throws(() => imageQuality(x, toChannels(x, 1)), /images differ in shape: 3×32×32 vs 1×32×32/);
  });
});

describe('side-by-side picture', () => {
  it('shows tiny images enlarged, clipped, grey as grey, with a gap', async () => {
    const orig = floatImage(1, 32, 32, () => 0.5);
    const rec = floatImage(3, 32, 32, (i) => (i < 1024 ? 1.7 : i < 2048 ? -0.3 : 0.5));
    const gap = 6;
    const picture = sideBySide(orig, rec, { gap });
    // Auto scale 4: 32 → 128 px each.
    assert.equal(picture.width, gap + 128 + gap + 128 + gap);
    assert.equal(picture.height, gap + 128 + gap);
    const at = (x: number, y: number) => [...picture.data.subarray((y * picture.width + x) * 4, (y * picture.width + x) * 4 + 4)];
    assert.deepEqual(at(gap + 10, gap + 10), [128, 128, 128, 255]);
    assert.deepEqual(at(gap + 128 + gap + 10, gap + 127), [255, 0, 128, 255]);
    assert.deepEqual(at(gap + 128 + 2, gap + 50), [255, 255, 255, 255], 'gap is background');
    const labelled = sideBySide(orig, rec, { scale: 2, gap, label: 'PSNR 12.3 dB', titles: ['original', 'reconstructed'] });
    assert.equal(labelled.width, gap + 64 + gap + 64 + gap);
    assert.ok(labelled.height > gap + 64 + gap);
    assert.ok(
      labelled.data.some((v, i) => i % 4 !== 3 && v === 0),
      'text drawn',
    );
    // A 224 px image needs no enlargement.
    const big = floatImage(3, 224, 224, () => 0.2);
    assert.equal(sideBySide(big, big, { gap: 0 }).width, 448);
    assert.deepEqual([...floatImageToRgba(floatImage(1, 1, 1, [NaN])).data], [0, 0, 0, 255]);
  });
});
