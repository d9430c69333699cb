// Draws the extension's icon (media/icon.png, 128×128, the Marketplace and Extensions view icon): a shield (the linter)
// split by a crack, with a drop leaking out, on a dark rounded square. Shapes are tested per sub-pixel (4×4 per pixel)
// for anti-aliased edges. Usage: npx tsx scripts/make-icon.ts [out.png]
import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';

const SIZE = 128;
const SUB = 4;
type Rgba = [number, number, number, number];

const BACKGROUND: Rgba = [23, 33, 43, 255]; // the gallery banner colour (package.json galleryBanner)
const SHIELD: Rgba = [64, 169, 201, 255];
const SHIELD_EDGE: Rgba = [138, 214, 234, 255];
const DROP: Rgba = [255, 107, 74, 255];
const CLEAR: Rgba = [0, 0, 0, 0];

/** Rounded square of the background. */
function inBackground(x: number, y: number): boolean {
  const r = 24;
  const cx = Math.min(Math.max(x, r), SIZE - r);
  const cy = Math.min(Math.max(y, r), SIZE - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

/** Shield: a shallow V on top, straight sides, a curved point at the bottom. */
function inShield(x: number, y: number, inset = 0): boolean {
  const cx = 60;
  const half = 38 - inset;
  const dx = Math.abs(x - cx);
  if (dx > half) return false;
  const top = 16 + inset + (12 * dx) / half;
  if (y < top) return false;
  const shoulder = 62;
  if (y <= shoulder) return true;
  const bottom = 112 - inset * 1.4;
  const t = (y - shoulder) / (bottom - shoulder);
  return t <= 1 && dx <= half * Math.sqrt(Math.max(0, 1 - t ** 1.8));
}

function distanceToSegment(px: number, py: number, [ax, ay]: number[], [bx, by]: number[]): number {
  const t = Math.max(0, Math.min(1, ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)));
  return Math.hypot(px - (ax + t * (bx - ax)), py - (ay + t * (by - ay)));
}

const CRACK = [
  [60, 26],
  [52, 50],
  [67, 60],
  [57, 84],
];
function inCrack(x: number, y: number): boolean {
  for (let i = 0; i + 1 < CRACK.length; i++) if (distanceToSegment(x, y, CRACK[i], CRACK[i + 1]) < 3.2) return true;
  return false;
}

/** A drop: a circle with a point on top. */
function inDrop(x: number, y: number): boolean {
  const cx = 96;
  const cy = 100;
  const r = 13;
  if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) return true;
  const tipY = 70;
  if (y < tipY || y > cy) return false;
  // Sides tangent to the circle, meeting at the tip.
  const slope = r / Math.sqrt((cy - tipY) ** 2 - r * r);
  return Math.abs(x - cx) <= (y - tipY) * slope;
}

function colourAt(x: number, y: number): Rgba {
  if (inDrop(x, y)) return DROP;
  if (inShield(x, y)) {
    if (inCrack(x, y)) return BACKGROUND;
    return inShield(x, y, 5) ? SHIELD : SHIELD_EDGE;
  }
  return inBackground(x, y) ? BACKGROUND : CLEAR;
}

function main() {
  const out = path.resolve(process.argv[2] ?? path.join(__dirname, '../media/icon.png'));
  const png = new PNG({ width: SIZE, height: SIZE });
  for (let py = 0; py < SIZE; py++) {
    for (let px = 0; px < SIZE; px++) {
      const sum = [0, 0, 0, 0];
      for (let sy = 0; sy < SUB; sy++) {
        for (let sx = 0; sx < SUB; sx++) {
          const c = colourAt(px + (sx + 0.5) / SUB, py + (sy + 0.5) / SUB);
          // Premultiplied, so that transparent sub-pixels do not darken edges.
          for (let k = 0; k < 3; k++) sum[k] += (c[k] * c[3]) / 255;
          sum[3] += c[3];
        }
      }
      const n = SUB * SUB;
      const alpha = sum[3] / n;
      const i = (py * SIZE + px) * 4;
      for (let k = 0; k < 3; k++) png.data[i + k] = alpha ? Math.round(((sum[k] / n) * 255) / alpha) : 0;
      png.data[i + 3] = Math.round(alpha);
    }
  }
  fs.writeFileSync(out, PNG.sync.write(png));
  console.log(`wrote ${out}`);
}

main();
