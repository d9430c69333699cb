// Per-layer rank benchmark (docs/algorithm.md §4.5): time and peak RSS of convLayerRank for every CNN6 and CNN6-d layer
// and for a 3×224×224 ImageNet stem (which must take the bound path quickly).
// Run: npx tsx bench/rank.ts            (each case runs in its own child process so that peak RSS is per case)
//      npx tsx bench/rank.ts --case N   (one case, JSON on stdout)
import { spawnSync } from 'node:child_process';
import { convGeometry, describeGeometry, type ConvGeometry } from '../src/engine/numerics/convGeometry';
import { convLayerRank } from '../src/engine/analysis/layerRank/convLayerRank';
import { CNN6, CNN6D, chain } from '../test/unit/rgap-networks';

const cases: { name: string; geom: ConvGeometry }[] = [
  ...chain(CNN6).map((geom, i) => ({ name: `CNN6 layer ${i + 1}`, geom })),
  ...chain(CNN6D).map((geom, i) => ({ name: `CNN6-d layer ${i + 1}`, geom })),
  { name: 'ImageNet stem 3×224×224', geom: convGeometry({ inChannels: 3, height: 224, width: 224, outChannels: 64, kernel: 7, strides: 2, pads: 3 }) },
];

interface CaseResult {
  name: string;
  layer: string;
  nX: number;
  rankK: number;
  rankW: number;
  rankU: number;
  deficiency: number;
  method: string;
  seconds: number;
  gflop: number;
  peakRssMiB: number;
  baselineRssMiB: number;
  notes: string[];
}

function runCase(i: number): CaseResult {
  const c = cases[i];
  const baseline = process.resourceUsage().maxRSS / 1024;
  const r = convLayerRank(c.geom, { seed: 1 });
  return {
    name: c.name,
    layer: describeGeometry(c.geom),
    nX: r.nX,
    rankK: r.rankK,
    rankW: r.rankW,
    rankU: r.rankU,
    deficiency: r.deficiency,
    method: r.method,
    seconds: r.seconds,
    gflop: r.flops / 1e9,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    baselineRssMiB: baseline,
    notes: r.notes,
  };
}

const argi = process.argv.indexOf('--case');
if (argi >= 0) {
  process.stdout.write(JSON.stringify(runCase(Number(process.argv[argi + 1]))) + '\n');
} else {
  const rows: CaseResult[] = [];
  for (let i = 0; i < cases.length; i++) {
    const child = spawnSync(process.execPath, [...process.execArgv, __filename, '--case', String(i)], { encoding: 'utf8' });
    if (child.status !== 0) {
      console.error(`${cases[i].name}: failed\n${child.stderr}`);
      process.exitCode = 1;
      continue;
    }
    const r = JSON.parse(child.stdout.trim().split('\n').pop() as string) as CaseResult;
    rows.push(r);
    console.log(
      `${r.name.padEnd(24)} ${r.layer.padEnd(48)} rank K ${String(r.rankK).padStart(6)}  W ${String(r.rankW).padStart(6)}  U ${String(r.rankU).padStart(6)}  def ${String(r.deficiency).padStart(6)}  ${r.method.padEnd(10)} ${r.seconds.toFixed(2).padStart(6)} s  ${r.gflop.toFixed(2).padStart(6)} GFLOP  peak RSS ${r.peakRssMiB.toFixed(0).padStart(4)} MiB (baseline ${r.baselineRssMiB.toFixed(0)})`,
    );
    for (const n of r.notes) console.log(`${''.padEnd(26)}note: ${n}`);
  }
  const total = rows.reduce((s, r) => s + r.seconds, 0);
  console.log(`total ${total.toFixed(2)} s over ${rows.length} layers`);
}
