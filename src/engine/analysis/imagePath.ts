// Where the closed-form recursion stops or falls short on the training image's path: the layers between the image
// and the output that the layer-by-layer closed form cannot pass exactly. The verdict (src/engine/verdict) turns them
// into "not proven safe" evidence: gradient matching is not blocked by any of them.
import type { ClosedFormStop } from '../verdict/types';
import type { GraphAnalysis } from './graphAnalysis';
import type { Unit } from './units';
import type { UnitSystem } from './unitSystems';

export interface ImagePath {
  /** Some reported layer (one with gradients) lies between the image and the output. */
  hasImageLayers: boolean;
  /** Units on a path from the image to the output. */
  units: ReadonlySet<string>;
  /** Where the closed form stops or falls short on that path, closest to the output first. */
  stops: ClosedFormStop[];
  /** The first stop that breaks the chain itself (not just a shortfall): COPA and RA-i do not apply past it. */
  brokenAt?: ClosedFormStop;
}

export function imagePathOf(analysis: GraphAnalysis): ImagePath {
  const { units, outputUnits } = analysis.graph;
  const fromImage = new Set<string>();
  for (const u of units) if (u.readsModelInput || u.inputs.some((i) => fromImage.has(i))) fromImage.add(u.id);
  const toOutput = new Set<string>(outputUnits);
  for (let k = units.length - 1; k >= 0; k--) {
    const u = units[k];
    if (toOutput.has(u.id)) for (const i of u.inputs) toOutput.add(i);
  }
  const onPath = new Set(units.filter((u) => fromImage.has(u.id) && toOutput.has(u.id)).map((u) => u.id));
  const reported = new Set(analysis.reported.map((u) => u.id));
  const stops: ClosedFormStop[] = [];
  for (let k = units.length - 1; k >= 0; k--) {
    const unit = units[k];
    if (!onPath.has(unit.id)) continue;
    const stop = stopAt(unit, analysis.systems.get(unit.id)!);
    if (stop) stops.push(stop);
  }
  const breaking = new Set<ClosedFormStop['kind']>(['chain-broken', 'not-analysed', 'max-pooling']);
  return {
    hasImageLayers: [...onPath].some((id) => reported.has(id)),
    units: onPath,
    stops,
    brokenAt: stops.find((s) => breaking.has(s.kind)),
  };
}

function stopAt(unit: Unit, system: UnitSystem): ClosedFormStop | undefined {
  const base = { nodeId: unit.id, name: unit.name, unknowns: system.metrics.nX };
  if (unit.kind === 'maxPool') return { ...base, kind: unit.pool?.global ? 'global-pooling' : 'max-pooling' };
  if (unit.kind === 'avgPool' && unit.pool?.global) return { ...base, kind: 'global-pooling' };
  if (unit.kind === 'residual') return { ...base, kind: system.status === 'not-analysed' ? 'not-analysed' : 'residual' };
  if (unit.kind === 'concat') return { ...base, kind: 'concatenation' };
  if (system.status === 'not-analysed') return { ...base, kind: 'not-analysed' };
  if (system.status === 'chain-broken') return { ...base, kind: 'chain-broken' };
  if (system.status === 'under-determined') return { ...base, kind: 'under-determined', deficiency: system.metrics.deficiency ?? undefined };
  return undefined;
}
