// Writes the bundled sample photos (media/samples/*.png): each original centre-cropped and resized to 224×224 with
// LeakLint's own resampling (src/engine/images/resize.ts), so the product's resizing is what made them.
// Usage: npx tsx scripts/make-samples.ts [originalsDir] [outDir]
//   (defaults: test/fixtures/sample-images/original, media/samples). Licences: media/samples/LICENSES.md.
import * as fs from 'fs';
import * as path from 'path';
import { encodePng, floatImageToRgba, readImage } from '../src/engine/images/codec';
import { nodeFileAccess as files } from '../src/node/nodeFileAccess';
import { centerCropResize } from '../src/engine/images/resize';

const SAMPLE_SIZE = 224;
const DEFAULT_SOURCE = path.resolve(__dirname, '../test/fixtures/sample-images/original');
const DEFAULT_OUT = path.resolve(__dirname, '../media/samples');

async function main(): Promise<void> {
  const source = path.resolve(process.argv[2] ?? DEFAULT_SOURCE);
  const out = path.resolve(process.argv[3] ?? DEFAULT_OUT);
  const originals = fs
    .readdirSync(source)
    .filter((f) => /\.(png|jpe?g)$/i.test(f))
    .sort();
  if (originals.length === 0) throw new Error(`no PNG or JPEG files in ${source}`);
  fs.mkdirSync(out, { recursive: true });
  let total = 0;
  for (const name of originals) {
    const image = await readImage(files, path.join(source, name));
    const sample = centerCropResize(image, SAMPLE_SIZE, SAMPLE_SIZE);
    // encodePng stores grey photos (R = G = B everywhere) as 8-bit greyscale PNG.
    const bytes = encodePng(floatImageToRgba(sample));
    const target = path.join(out, name.replace(/\.(png|jpe?g)$/i, '.png'));
    fs.writeFileSync(target, bytes);
    total += bytes.length;
    console.log(`${name} ${image.width}×${image.height} → ${path.relative(process.cwd(), target)} (${(bytes.length / 1024).toFixed(0)} KiB)`);
  }
  console.log(`wrote ${originals.length} samples, ${(total / 1024).toFixed(0)} KiB in total, to ${out}`);
}

void main();
