// Where the Node adapters (the CLI and the background worker) find what ships with LeakLint: the worker bundle and
// the sample images. Both run from dist/ when installed and from the sources under tsx (tests, scripts).
import * as fs from 'fs';
import * as path from 'path';

/** The package root: dist/.. for the bundles, src/node/../.. for the sources. */
function packageRoot(): string {
  const candidates = [path.resolve(__dirname, '..'), path.resolve(__dirname, '..', '..')];
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'media', 'samples'))) ?? candidates[0];
}

/** The bundled CC0/public-domain sample photos (media/samples). */
export function bundledSamplesFolder(): string {
  return path.join(packageRoot(), 'media', 'samples');
}

/** dist/worker.js next to the CLI bundle, or the built bundle when the CLI runs from the sources; undefined if absent. */
export function workerBundlePath(): string | undefined {
  const candidates = [path.join(__dirname, 'worker.js'), path.join(packageRoot(), 'dist', 'worker.js')];
  return candidates.find((file) => fs.existsSync(file));
}
