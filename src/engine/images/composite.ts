// Side-by-side picture of an original and its reconstruction for reports: both clipped to [0,1], enlarged with
// nearest-neighbour (so 32×32 inputs stay crisp and visible), optional titles and a caption in a built-in 5×7 font.
import { floatImageToRgba, type FloatImage, type RgbaImage } from './codec';
import { nearestUpscale } from './resize';

export interface SideBySideOptions {
  /** Integer enlargement; default: the smallest factor that makes the larger side at least `minSize`. */
  scale?: number;
  /** Default 128 px (only used when `scale` is not given). */
  minSize?: number;
  /** Pixels between the images and around the picture (default 8). */
  gap?: number;
  /** Caption under the pair, e.g. "PSNR 24.1 dB  SSIM 0.83". */
  label?: string;
  /** Titles above the images, e.g. ["original", "reconstructed"]. */
  titles?: [string, string];
  /** RGB background (default white); text is black or white, whichever contrasts. */
  background?: [number, number, number];
}

export function sideBySide(original: FloatImage, reconstructed: FloatImage, options: SideBySideOptions = {}): RgbaImage {
  const minSize = options.minSize ?? 128;
  const largest = Math.max(original.width, original.height, reconstructed.width, reconstructed.height);
  const scale = options.scale ?? Math.max(1, Math.ceil(minSize / largest));
  const gap = options.gap ?? 8;
  if (!Number.isInteger(gap) || gap < 0) throw new Error(`gap must be a non-negative integer, got ${gap}`);
  const background = options.background ?? [255, 255, 255];
  const ink: [number, number, number] = background[0] * 0.299 + background[1] * 0.587 + background[2] * 0.114 > 127 ? [0, 0, 0] : [255, 255, 255];

  // floatImageToRgba clips to [0,1] and shows grey as grey RGB.
  const left = nearestUpscale(floatImageToRgba(original), scale);
  const right = nearestUpscale(floatImageToRgba(reconstructed), scale);
  const rowWidth = left.width + gap + right.width;
  const rowHeight = Math.max(left.height, right.height);
  const textScale = rowWidth >= 300 ? 2 : 1;
  const lineHeight = GLYPH_HEIGHT * textScale;
  const titles = options.titles;
  const label = options.label;

  const textWidths = [label ? textWidth(label, textScale) : 0];
  const titleWidths = titles ? titles.map((t) => textWidth(t, textScale)) : [0, 0];
  const contentWidth = Math.max(rowWidth, ...textWidths, titleWidths[0] + gap + titleWidths[1]);
  const width = contentWidth + 2 * gap;
  const titleBand = titles ? lineHeight + gap : 0;
  const labelBand = label ? gap + lineHeight : 0;
  const height = gap + titleBand + rowHeight + labelBand + gap;

  const canvas: RgbaImage = { width, height, data: new Uint8Array(width * height * 4) };
  for (let p = 0; p < width * height; p++) {
    canvas.data.set(background, p * 4);
    canvas.data[p * 4 + 3] = 255;
  }
  const rowX = gap + Math.floor((contentWidth - rowWidth) / 2);
  const rowY = gap + titleBand;
  blit(canvas, left, rowX, rowY);
  blit(canvas, right, rowX + left.width + gap, rowY);
  if (titles) {
    const centres = [rowX + left.width / 2, rowX + left.width + gap + right.width / 2];
    titles.forEach((title, i) => drawText(canvas, title, Math.round(centres[i] - titleWidths[i] / 2), gap, textScale, ink));
  }
  if (label) drawText(canvas, label, gap + Math.floor((contentWidth - textWidths[0]) / 2), rowY + rowHeight + gap, textScale, ink);
  return canvas;
}

function blit(canvas: RgbaImage, image: RgbaImage, x0: number, y0: number): void {
  for (let y = 0; y < image.height; y++) {
    const from = y * image.width * 4;
    canvas.data.set(image.data.subarray(from, from + image.width * 4), ((y0 + y) * canvas.width + x0) * 4);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A 5×7 bitmap font: upper-case letters (lower case is drawn upper case), digits and common punctuation.

const GLYPH_WIDTH = 5;
const GLYPH_HEIGHT = 7;
const GLYPH_ADVANCE = GLYPH_WIDTH + 1;

const FONT: Record<string, string> = {
  A: '.###. #...# #...# ##### #...# #...# #...#',
  B: '####. #...# #...# ####. #...# #...# ####.',
  C: '.###. #...# #.... #.... #.... #...# .###.',
  D: '###.. #..#. #...# #...# #...# #..#. ###..',
  E: '##### #.... #.... ####. #.... #.... #####',
  F: '##### #.... #.... ####. #.... #.... #....',
  G: '.###. #...# #.... #.### #...# #...# .####',
  H: '#...# #...# #...# ##### #...# #...# #...#',
  I: '.###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  J: '..### ...#. ...#. ...#. ...#. #..#. .##..',
  K: '#...# #..#. #.#.. ##... #.#.. #..#. #...#',
  L: '#.... #.... #.... #.... #.... #.... #####',
  M: '#...# ##.## #.#.# #.#.# #...# #...# #...#',
  N: '#...# #...# ##..# #.#.# #..## #...# #...#',
  O: '.###. #...# #...# #...# #...# #...# .###.',
  P: '####. #...# #...# ####. #.... #.... #....',
  Q: '.###. #...# #...# #...# #.#.# #..#. .##.#',
  R: '####. #...# #...# ####. #.#.. #..#. #...#',
  S: '.#### #.... #.... .###. ....# ....# ####.',
  T: '##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  U: '#...# #...# #...# #...# #...# #...# .###.',
  V: '#...# #...# #...# #...# #...# .#.#. ..#..',
  W: '#...# #...# #...# #.#.# #.#.# #.#.# .#.#.',
  X: '#...# #...# .#.#. ..#.. .#.#. #...# #...#',
  Y: '#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..',
  Z: '##### ....# ...#. ..#.. .#... #.... #####',
  '0': '.###. #...# #..## #.#.# ##..# #...# .###.',
  '1': '..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.',
  '2': '.###. #...# ....# ...#. ..#.. .#... #####',
  '3': '##### ...#. ..#.. ...#. ....# #...# .###.',
  '4': '...#. ..##. .#.#. #..#. ##### ...#. ...#.',
  '5': '##### #.... ####. ....# ....# #...# .###.',
  '6': '..##. .#... #.... ####. #...# #...# .###.',
  '7': '##### ....# ...#. ..#.. .#... .#... .#...',
  '8': '.###. #...# #...# .###. #...# #...# .###.',
  '9': '.###. #...# #...# .#### ....# ...#. .##..',
  ' ': '..... ..... ..... ..... ..... ..... .....',
  '.': '..... ..... ..... ..... ..... .##.. .##..',
  ',': '..... ..... ..... ..... .##.. ..#.. .#...',
  ':': '..... .##.. .##.. ..... .##.. .##.. .....',
  '-': '..... ..... ..... ##### ..... ..... .....',
  '+': '..... ..#.. ..#.. ##### ..#.. ..#.. .....',
  '/': '....# ....# ...#. ..#.. .#... #.... #....',
  '=': '..... ..... ##### ..... ##### ..... .....',
  '%': '##..# ##..# ...#. ..#.. .#... #..## #..##',
  '(': '...#. ..#.. .#... .#... .#... ..#.. ...#.',
  ')': '.#... ..#.. ...#. ...#. ...#. ..#.. .#...',
  '?': '.###. #...# ....# ...#. ..#.. ..... ..#..',
  '!': '..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..',
  _: '..... ..... ..... ..... ..... ..... #####',
  '×': '..... #...# .#.#. ..#.. .#.#. #...# .....',
  '∞': '..... ..... .#.#. #.#.# .#.#. ..... .....',
};

function glyph(ch: string): string[] {
  return (FONT[ch.toUpperCase()] ?? FONT['?']).split(' ');
}

export function textWidth(text: string, textScale = 1): number {
  const n = [...text].length;
  return n === 0 ? 0 : (n * GLYPH_ADVANCE - 1) * textScale;
}

/** Draws text with its top-left corner at (x, y); pixels outside the canvas are skipped. */
export function drawText(canvas: RgbaImage, text: string, x: number, y: number, textScale: number, color: [number, number, number]): void {
  let penX = x;
  for (const ch of text) {
    const rows = glyph(ch);
    for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
      for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
        if (rows[gy][gx] !== '#') continue;
        for (let sy = 0; sy < textScale; sy++) {
          for (let sx = 0; sx < textScale; sx++) {
            const px = penX + gx * textScale + sx;
            const py = y + gy * textScale + sy;
            if (px < 0 || py < 0 || px >= canvas.width || py >= canvas.height) continue;
            canvas.data.set(color, (py * canvas.width + px) * 4);
          }
        }
      }
    }
    penX += GLYPH_ADVANCE * textScale;
  }
}
