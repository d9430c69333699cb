// Plain-words descriptions, reasons and rule ids for each analysed unit.
import type { RuleId } from './rules';
import type { Unit } from './units';
import type { UnitSystem } from './unitSystems';

const times = '×';

function windowText(kernel: [number, number], strides: [number, number]): string {
  const k = `${kernel[0]}${times}${kernel[1]}`;
  const s = strides[0] === strides[1] ? `${strides[0]}` : `${strides[0]}${times}${strides[1]}`;
  return strides[0] === 1 && strides[1] === 1 ? k : `${k}/${s}`;
}

export function describeUnit(unit: Unit): string {
  switch (unit.kind) {
    case 'conv': {
      const c = unit.conv!;
      const depthwise = c.groups > 1 && c.groups === c.inChannels ? 'depthwise ' : c.groups > 1 ? `grouped (${c.groups}) ` : '';
      return `${depthwise}Conv ${windowText(c.kernel, c.strides)}, ${c.outChannels} filters`;
    }
    case 'dense':
      return `Dense ${unit.dense!.inFeatures}→${unit.dense!.outFeatures}`;
    case 'avgPool':
    case 'maxPool': {
      const name = unit.kind === 'avgPool' ? 'AvgPool' : 'MaxPool';
      return unit.pool!.global ? `Global${name}` : `${name} ${windowText(unit.pool!.kernel, unit.pool!.strides)}`;
    }
    case 'residual':
      return 'Residual addition';
    case 'concat':
      return 'Concatenation';
    default:
      return unit.sourceOp;
  }
}

function percent(part: number, whole: number): string {
  const p = (100 * part) / whole;
  return `${p < 0.1 ? p.toFixed(2) : p.toFixed(1)} %`;
}

/**
 * Why a layer's finding says what it says, about what the layer reads: the training image for the layers that read
 * it, a feature map for the others (whose recovery matters only as a step towards the image).
 */
export function reasonFor(unit: Unit, system: UnitSystem, input: 'image' | 'feature map'): string {
  const m = system.metrics;
  const subject = input === 'image' ? 'the image' : 'its input feature map';
  if (system.status === 'not-analysed') {
    return `${system.note ?? 'LeakLint could not analyse this layer'}; it is treated as exposing ${subject}, since nothing shows otherwise.`;
  }
  if (system.status === 'chain-broken') {
    if (unit.kind === 'maxPool') {
      return (
        `Max pooling breaks the closed-form chain: the attacker does not know which inputs were selected, so ` +
        `${m.nX - m.nZ} of ${m.nX} dimensions are lost to the closed-form attack; gradient matching can still continue.`
      );
    }
    return `${system.note ?? 'This layer breaks the closed-form chain'}: the closed-form attack stops here, gradient matching can still continue.`;
  }
  const rconv =
    unit.activation?.route !== 'rconv'
      ? ''
      : system.allForwardRows
        ? ' (ReLU keeps forward equations only for active units, R-CONV; the output is too large to draw which, so all of them are counted)'
        : ' (ReLU keeps forward equations only for active units, R-CONV: counted with half of them active)';
  const estimate = m.rankMethod === 'bound' ? 'at least ' : '';
  if (unit.kind === 'dense') {
    if (unit.hasBias) {
      return (
        `A dense layer with a bias leaks ${subject} exactly: each row of its weight gradient is its input scaled by the ` +
        `matching bias gradient, so all ${m.nX} inputs follow from one row.`
      );
    }
    return `Its rank-one weight gradient gives ${m.nX} independent equations for ${m.nX} unknowns once δz is known from the layers after it: ${subject} is fully recoverable.`;
  }
  if (unit.kind === 'conv') {
    const c = unit.conv!;
    const filters = `${c.outChannels} filters of ${windowText(c.kernel, c.strides)} over ${c.inChannels} channel${c.inChannels === 1 ? '' : 's'}`;
    const uncovered = m.uncovered > 0 ? `; ${m.uncovered} input entries are never inside a window and cannot be recovered` : '';
    if (system.status !== 'under-determined') {
      if ((m.rankK ?? 0) >= m.nX) {
        return `${filters} give ${m.rankK} independent gradient equations for ${m.nX} unknowns${rconv}: ${subject} is fully recoverable from the gradients alone.`;
      }
      return (
        `${filters} give ${m.rankK} independent gradient equations for ${m.nX} unknowns, and ${m.rankW} forward equations ` +
        `close the gap${rconv}: ${subject} is fully recoverable.`
      );
    }
    return (
      `${filters} give ${m.rankK} independent gradient equations and ${m.rankW} forward equations for ${m.nX} unknowns${rconv}; ` +
      `together they fix only ${m.rankU}, leaving ${estimate}${m.deficiency} dimensions of ${subject} (${percent(m.deficiency!, m.nX)}) unsolved${uncovered}.`
    );
  }
  if (unit.kind === 'avgPool') {
    if (system.status !== 'under-determined') return `Average pooling keeps one equation per input: ${m.nZ} forward equations for ${m.nX} unknowns.`;
    return (
      `Average pooling has no weights: ${m.rankU} independent forward equations for ${m.nX} unknowns leave ${m.deficiency} dimensions ` +
      `(${percent(m.deficiency!, m.nX)}) that only constraints from earlier layers can restore.`
    );
  }
  if (unit.kind === 'residual') {
    return system.note ?? 'The identity skip pins the block input once the block output is known.';
  }
  return system.note ?? `${unit.sourceOp}: ${m.nX} unknowns, deficiency ${m.deficiency}.`;
}

export function ruleFor(unit: Unit, system: UnitSystem): RuleId {
  if (system.status === 'not-analysed') return 'LL005';
  if (system.status === 'chain-broken') return 'LL004';
  if (unit.kind === 'dense' && unit.hasBias) return 'LL003';
  if (system.status === 'under-determined') {
    const m = system.metrics;
    return m.uncovered > 0 && m.deficiency === m.uncovered ? 'LL006' : 'LL002';
  }
  return 'LL001';
}
