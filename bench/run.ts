// Prints read and analysis figures (time, peak memory) for the models the README reports.
// Run: npm run bench. Each case runs in its own process (bench/cases.ts).
import { execFileSync } from 'child_process';
import * as path from 'path';
import { largeModelPath } from './cases';

const root = path.resolve(__dirname, '..');
const thirdParty = path.join(root, 'test', 'fixtures', 'third-party');
const fixtures = path.join(root, 'test', 'fixtures', 'generated');

const cases: [string, string][] = [
  ['read', 'large'],
  ['read', path.join(thirdParty, 'ortex-ultraface-rfb320', 'Ultraface_version-RFB-320.onnx')],
  ['read', path.join(fixtures, 'cnn6', 'tfjs-graph', 'model.json')],
  ['analyse', path.join(fixtures, 'cnn6', 'model.onnx')],
  ['analyse', path.join(thirdParty, 'onnx-light-resnet50', 'model.onnx')],
  ['analyse', 'large'],
];

largeModelPath();
console.log('case     seconds   peak RSS MiB  model');
for (const [kind, file] of cases) {
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'cases.ts'), kind, file], { cwd: root, encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n').pop()!);
  console.log(
    `${kind.padEnd(8)} ${r.seconds.toFixed(3).padStart(7)}   ${r.peakRssMiB.toFixed(0).padStart(12)}  ${r.file} (${(r.bytes / 2 ** 20).toFixed(1)} MiB)${r.coverage ? ' ' + JSON.stringify(r.coverage) : ''}`,
  );
}
