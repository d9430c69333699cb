// Every sentence the verdict says, written once: the headline every surface shows (CLI, reports, SARIF, the editor)
// and one sentence per piece of evidence.
import type { ClosedFormStop, Evidence, JacobianRankEvidence, ModelVerdict } from './types';

/** "max pooling", "the residual addition"...: why the closed form stops at a layer, in a few words. */
export function describeStop(stop: ClosedFormStop): string {
  switch (stop.kind) {
    case 'max-pooling':
      return `${stop.name} (max pooling)`;
    case 'global-pooling':
      return `${stop.name} (global pooling)`;
    case 'residual':
      return `${stop.name} (a residual addition)`;
    case 'concatenation':
      return `${stop.name} (a concatenation)`;
    case 'not-analysed':
      return `${stop.name} (not analysed)`;
    case 'chain-broken':
      return `${stop.name} (no closed-form inverse)`;
    case 'under-determined':
      return `${stop.name} (${stop.deficiency ?? 'some'} of ${stop.unknowns} input dimensions undetermined)`;
  }
}

/** One sentence per piece of evidence, for reports and hovers. */
export function evidenceSentence(e: Evidence): string {
  switch (e.kind) {
    case 'closed-form':
      if (e.reachesImage) return `Closed form: every layer's linear system is solvable from the output back to the image (risk ${e.risk.toFixed(2)}).`;
      return `Closed form: stops or falls short at ${e.stops.slice(0, 3).map(describeStop).join(', ')}${e.stops.length > 3 ? ` and ${e.stops.length - 3} more` : ''} (risk ${e.risk.toFixed(2)}).`;
    case 'gradient-matching':
      if (e.basis === 'static') {
        return `Gradient matching: not blocked by ${e.layer?.name ?? 'the layers that stop the closed form'}; optimisation attacks (Inverting Gradients, DLG) go through max pooling, residual blocks and under-determined layers.`;
      }
      return jacobianSentence(e);
    case 'attack':
      return attackSentence(e);
  }
}

/** "3072 of 3072", "at least 512 of 3072", "at least 180 of 3072 in a 32×32 centre patch of the image". */
export function describeJacobianRank(rank: JacobianRankEvidence): string {
  const of = `${rank.method === 'lower-bound' ? 'at least ' : ''}${rank.rank} of ${rank.unknowns}`;
  return rank.patch ? `${of} in a ${rank.patch.height}×${rank.patch.width} centre patch of the image` : of;
}

function jacobianSentence(e: Extract<Evidence, { kind: 'gradient-matching' }>): string {
  const rank = e.rank;
  if (!rank) return 'Gradient matching: the rank of the Jacobian was not measured.';
  const how =
    e.identifiable === 'full'
      ? 'the image is locally identifiable from the shared gradients, whatever the layers'
      : rank.method === 'lower-bound'
        ? `at least ${rank.rank} directions of the ${rank.patch ? 'patch' : 'image'} are identifiable from the shared gradients (the rank was cut at ${rank.columns} products)`
        : rank.patch && rank.rank === rank.unknowns
          ? 'the patch is identifiable when the rest of the image is known, which does not show that the whole image is'
          : `${rank.unknowns - rank.rank} directions of the ${rank.patch ? 'patch' : 'image'} are invisible to the gradients, the rest identifiable`;
  const carriers = rank.layers.filter((l) => l.rank > 0).map((l) => l.name);
  const layers = rank.layers.length ? ` Layers whose gradients carry the image: ${carriers.length ? carriers.join(', ') : 'none'}.` : '';
  return `Gradient matching: the Jacobian of the shared gradients with respect to the image has rank ${describeJacobianRank(rank)} (${rank.method}, ${rank.columns} products, at ${rank.image}): ${how}.${layers} A full or partial rank is never evidence of safety.`;
}

function attackSentence(e: Extract<Evidence, { kind: 'attack' }>): string {
  const quality =
    e.bestPsnr === undefined
      ? ''
      : ` (best PSNR ${e.bestPsnr === null ? '∞' : `${e.bestPsnr.toFixed(1)} dB`}${e.bestSsim !== undefined ? `, SSIM ${e.bestSsim.toFixed(2)}` : ''})`;
  switch (e.outcome) {
    case 'rebuilt':
      return `Attack: the ${e.method} rebuilt ${e.rebuilt} of ${e.images} sample image${e.images === 1 ? '' : 's'} from their gradients${e.budget ? ` at ${e.budget}` : ''}${quality}.`;
    case 'resisted':
      return `Attack: the ${e.method} did not rebuild the samples at ${e.budget ?? 'its budget'}${quality}${e.reason ? ` (${e.reason})` : ''}; that does not make the model safe.`;
    case 'stopped':
      return `Attack: the ${e.method} stopped before the image${e.reason ? ` (${e.reason})` : ''}; that does not make the model safe.`;
    case 'not-run':
      return `Attack: the ${e.method} did not run${e.reason ? ` (${e.reason})` : ''}.`;
  }
}

/** The one sentence every surface shows for the model. */
export function headlineOf(verdict: ModelVerdict): string {
  const closedForm = verdict.evidence.find((e) => e.kind === 'closed-form');
  // The measured rank, where there is one, says more than the architecture rule.
  const matching =
    verdict.evidence.find((e) => e.kind === 'gradient-matching' && e.basis === 'jacobian-rank') ?? verdict.evidence.find((e) => e.kind === 'gradient-matching');
  const attacks = verdict.evidence.filter((e): e is Extract<Evidence, { kind: 'attack' }> => e.kind === 'attack');
  const rebuilt = attacks.find((a) => a.outcome === 'rebuilt');
  const resisted = attacks.find((a) => a.outcome === 'resisted');
  const tail =
    resisted && !rebuilt ? ` A ${resisted.method} at ${resisted.budget ?? 'its budget'} did not rebuild the samples, which does not make it safe.` : '';
  if (!closedForm && !rebuilt) return 'Nothing to leak: no layer with trainable parameters reads the image, so the shared gradients carry nothing about it.';
  if (rebuilt) return `Proven leak: ${attackSentence(rebuilt).replace(/^Attack: the /, 'the ')}`;
  if (closedForm?.kind === 'closed-form' && closedForm.severity === 'high') {
    const head = `Training image recoverable from one step's gradients in closed form (risk ${closedForm.risk.toFixed(2)})`;
    if (closedForm.reachesImage) return `${head}: every layer's linear system is solvable from the output back to the image.${tail}`;
    return `${head}, although the closed form falls short at ${describeStop(closedForm.stops[0])}.${tail}`;
  }
  if (matching?.kind === 'gradient-matching') {
    const stop = closedForm?.kind === 'closed-form' ? closedForm.stops[0] : undefined;
    if (matching.basis === 'jacobian-rank') {
      // A capped rank only bounds what is identifiable from below: the image may well be wholly identifiable.
      const bounded = matching.rank?.method === 'lower-bound' || matching.rank?.patch !== undefined;
      const how = matching.identifiable === 'full' ? 'locally identifiable' : bounded ? 'at least partly identifiable' : 'partly identifiable';
      const rank = matching.rank ? ` has rank ${describeJacobianRank(matching.rank)}` : '';
      return `Training image ${how} from the gradients: the Jacobian of the shared gradients${rank}${stop ? `, through ${describeStop(stop)} where the closed form stops` : ''}.${tail}`;
    }
    const why = stop?.kind === 'under-determined' ? `falls short at ${describeStop(stop)}` : `stops at ${stop ? describeStop(stop) : 'a layer'}`;
    return `Not proven safe: the closed-form attack ${why}, but gradient matching is not blocked there; treat the training image as exposed.${tail}`;
  }
  return `Low risk: the rank analysis finds no practical route from the gradients back to the training image (risk ${verdict.risk.toFixed(2)}).${tail}`;
}
