// The conv stacks of docs/algorithm.md §4.5 as layer geometries, shared by the rank tests and bench/rank.ts.
import { convGeometry, type ConvGeometry } from '../../src/engine/numerics/convGeometry';

export type ConvSpec = [outChannels: number, kernel: number, stride: number, pad: number];

/** R-GAP CNN6 (3×32×32 input). */
export const CNN6: ConvSpec[] = [
  [12, 4, 2, 2],
  [36, 3, 2, 1],
  [36, 3, 1, 1],
  [36, 3, 1, 1],
  [64, 3, 2, 1],
  [128, 3, 1, 1],
];

/** CNN6-d: CNN6 with 20 instead of 36 filters in layer 2. */
export const CNN6D: ConvSpec[] = CNN6.map((spec, i) => (i === 1 ? [20, 3, 2, 1] : spec));

/** Geometries of a stack of square convs, each reading the previous one's output. */
export function chain(specs: ConvSpec[], input: [number, number, number] = [3, 32, 32]): ConvGeometry[] {
  const out: ConvGeometry[] = [];
  let [c, h, w] = input;
  for (const [f, k, s, p] of specs) {
    const g = convGeometry({ inChannels: c, height: h, width: w, outChannels: f, kernel: k, strides: s, pads: p });
    out.push(g);
    [c, h, w] = [g.outChannels, g.outHeight, g.outWidth];
  }
  return out;
}
