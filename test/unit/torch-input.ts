// The input the PyTorch reference scripts feed (scripts/torch/reference_gradients.py, load_input), written out
// independently, so that a disagreement with a torch reference can only be the engine's:
// 3×32×32 → RGB CHW, v/255 − 0.5; 1×28×28 → centre crop (rows/columns 2..29), (r+g+b)/765 − 0.5.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { PNG } from 'pngjs';

export function torchReferenceInput(pngFile: string, shape: number[]): Float64Array {
  const png = PNG.sync.read(fs.readFileSync(pngFile));
  assert.deepEqual([png.width, png.height], [32, 32]);
  const rgba = (row: number, col: number, channel: number): number => png.data[(row * 32 + col) * 4 + channel];
  const [, channels, height, width] = shape;
  const out = new Float64Array(channels * height * width);
  if (channels === 3 && height === 32 && width === 32) {
    for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) out[(c * 32 + y) * 32 + x] = rgba(y, x, c) / 255 - 0.5;
  } else if (channels === 1 && height === 28 && width === 28) {
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) out[y * 28 + x] = (rgba(y + 2, x + 2, 0) + rgba(y + 2, x + 2, 1) + rgba(y + 2, x + 2, 2)) / 765 - 0.5;
    }
  } else {
    assert.fail(`no documented preprocessing for input shape [${shape.join(',')}]`);
  }
  return out;
}
