// Deciding the verdict from the evidence: each kind gives a severity and a risk; the verdict takes the highest.
// A gradient-matching "not blocked" finding lifts a model to at least medium, a rebuilt image to high and proven; a
// resisted attack never lowers anything (docs/verdict.md).
import type { Severity } from './types';
import type { ModelReport } from '../analysis/types';
import type { AttackReport, ReconstructionMethod } from '../attack/types';
import type { IdentifiabilityReport } from '../identifiability/jacobianRank';
import { SEVERITIES, isAtLeast } from '../analysis/rules';
import { evidenceSentence, headlineOf } from './phrases';
import { RECOGNISABLE, type ClosedFormStop, type Evidence, type ModelVerdict } from './types';

export interface Thresholds {
  high: number;
  medium: number;
}

export interface ClosedFormFacts {
  /** The closed-form risk score. */
  risk: number;
  /** Some layer with gradients lies between the image and the output. */
  hasImageLayers: boolean;
  stops: ClosedFormStop[];
}

/** The verdict of the static analysis: closed form, and the gradient-matching rule where the closed form stops. */
export function staticEvidence(facts: ClosedFormFacts, thresholds: Thresholds): Evidence[] {
  if (!facts.hasImageLayers) return [];
  const closedForm: Evidence = {
    kind: 'closed-form',
    severity: severityOf(facts.risk, thresholds),
    risk: facts.risk,
    reachesImage: facts.stops.length === 0,
    stops: facts.stops,
  };
  if (facts.stops.length === 0) return [closedForm];
  const where = facts.stops[0];
  const gradientMatching: Evidence = {
    kind: 'gradient-matching',
    basis: 'static',
    severity: 'medium',
    risk: thresholds.medium,
    identifiable: 'not-blocked',
    layer: { nodeId: where.nodeId, name: where.name },
  };
  return [closedForm, gradientMatching];
}

/**
 * What an attack LeakLint ran says: rebuilt (recognisable: docs/verdict.md), resisted, stopped or not run; named by
 * the method that rebuilt the best image (or the methods tried), with the budget gradient matching had.
 */
export function attackEvidence(report: AttackReport): Extract<Evidence, { kind: 'attack' }> {
  const { method, budget } = attackMethodAndBudget(report);
  if (report.images.length === 0) return { kind: 'attack', method, outcome: 'not-run', images: 0, rebuilt: 0, reason: report.verdict };
  const measured = report.images.filter((i) => i.quality);
  const isRecognisable = (i: AttackReport['images'][number]) => i.quality!.clipped.psnr >= RECOGNISABLE.psnrDb || i.quality!.clipped.ssim >= RECOGNISABLE.ssim;
  const recognisable = measured.filter(isRecognisable);
  const psnrs = measured.map((i) => i.quality!.clipped.psnr);
  const best = psnrs.length ? Math.max(...psnrs) : undefined;
  const common = {
    kind: 'attack' as const,
    images: report.images.length,
    rebuilt: recognisable.length,
    ...(best !== undefined ? { bestPsnr: Number.isFinite(best) ? round1(best) : null } : {}),
    ...(measured.length ? { bestSsim: round3(Math.max(...measured.map((i) => i.quality!.clipped.ssim))) } : {}),
  };
  if (recognisable.length > 0) {
    // Named by the method that rebuilt the best of the recognisable images.
    const winner = recognisable.reduce((a, b) => (b.quality!.clipped.psnr > a.quality!.clipped.psnr ? b : a));
    const rebuiltBy = winner.method ?? 'closed-form';
    // The closed form has no budget worth naming when it rebuilds the image; gradient matching names its iterations.
    return { ...common, method: methodName(rebuiltBy, report), ...(rebuiltBy === 'closed-form' ? {} : { budget }), outcome: 'rebuilt', severity: 'high' };
  }
  const unavailable = report.gradientMatching?.unavailable;
  if (report.images.every((i) => !i.reachedInput)) {
    const stop = report.images[0].stoppedAt?.reason;
    return { ...common, method, budget, outcome: 'stopped', reason: [stop, unavailable].filter(Boolean).join('; ') || undefined };
  }
  return { ...common, method, budget, outcome: 'resisted', ...(unavailable ? { reason: unavailable } : {}) };
}

/** The attack as run: its method's name and the budget it had ("2000 iterations × 2 restarts"). */
function attackMethodAndBudget(report: AttackReport): { method: string; budget: string } {
  const ranMatching = report.images.some((i) => i.gradientMatching);
  if (!ranMatching) return { method: methodName('closed-form', report), budget: budgetOf('closed-form', report) };
  const hybrid = report.images.some((i) => i.gradientMatching?.closedFormLoss !== undefined);
  return { method: methodName(hybrid ? 'hybrid' : 'gradient-matching', report), budget: budgetOf('gradient-matching', report) };
}

function methodName(method: ReconstructionMethod, report: AttackReport): string {
  switch (method) {
    case 'closed-form':
      return report.refine ? 'closed-form attack with gradient-matching correction' : 'closed-form attack';
    case 'gradient-matching':
      return 'gradient-matching attack (Inverting Gradients)';
    case 'hybrid':
      return 'hybrid attack (closed form, then gradient matching)';
  }
}

function budgetOf(method: 'closed-form' | 'gradient-matching', report: AttackReport): string {
  if (method === 'closed-form') return report.refine ? 'its correction time budget' : 'one step, no iterations';
  const settings = report.gradientMatching;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const runs = report.images.flatMap((i) => (i.gradientMatching ? [i.gradientMatching] : []));
  const fromClosedForm = runs.some((r) => r.closedFormLoss !== undefined);
  const fromNoise = runs.some((r) => r.runs > (r.closedFormLoss !== undefined ? 1 : 0));
  const starts = [
    ...(fromNoise && settings ? [plural(settings.restarts, 'restart')] : []),
    ...(fromClosedForm ? [fromNoise ? "a run from the closed form's image" : "the closed form's image"] : []),
  ];
  const nominal = settings ? `${plural(settings.iterations, 'iteration')}${fromNoise ? ' × ' : ' from '}${starts.join(' and ')}` : 'its budget';
  const cut = runs.some((r) => r.stoppedBy === 'time');
  return cut ? `${nominal}, cut short by the time budget` : nominal;
}

/**
 * What the rank of J says: an exact full rank is "identifiable" (high); a deficient rank, a lower bound or a patch's
 * rank "partly identifiable" (medium). Never evidence of safety: a rank never lowers the verdict (decideVerdict takes the highest).
 */
export function identifiabilityEvidence(report: IdentifiabilityReport, thresholds: Thresholds): Evidence {
  // Only an exact rank of the whole image is full identifiability: a full centre patch (the rest held known) is not.
  const full = report.method === 'exact' && !report.patch && report.rank === report.unknowns;
  return {
    kind: 'gradient-matching',
    basis: 'jacobian-rank',
    severity: full ? 'high' : 'medium',
    risk: full ? thresholds.high : thresholds.medium,
    identifiable: full ? 'full' : 'partial',
    rank: {
      rank: report.rank,
      unknowns: report.unknowns,
      method: report.method,
      ...(report.patch ? { patch: report.patch } : {}),
      columns: report.columns,
      image: report.image,
      label: report.label,
      layers: report.layers.map((l) => ({ nodeId: l.nodeId, name: l.name, parameters: l.parameters, rank: l.rank, unknowns: l.unknowns, method: l.method })),
    },
  };
}

/**
 * A full-rank Jacobian says the image is identifiable, not that an attack finds it: when an attack LeakLint ran at
 * its documented budget did not rebuild the samples, that evidence gives medium, not high.
 */
function effectiveSeverity(e: Evidence, evidence: readonly Evidence[]): Severity | undefined {
  if (e.kind !== 'gradient-matching' || e.basis !== 'jacobian-rank' || e.severity !== 'high') return e.severity;
  const attacks = evidence.filter((a) => a.kind === 'attack');
  const resisted = attacks.some((a) => a.outcome === 'resisted') && !attacks.some((a) => a.outcome === 'rebuilt');
  return resisted ? 'medium' : 'high';
}

/** The verdict from all the evidence there is. */
export function decideVerdict(evidence: Evidence[], thresholds: Thresholds): ModelVerdict {
  let severity: Severity = 'low';
  let risk = 0;
  for (const e of evidence) {
    const own = effectiveSeverity(e, evidence);
    if (e.kind === 'attack') {
      if (e.outcome === 'rebuilt') risk = 1;
    } else risk = Math.max(risk, own === e.severity ? e.risk : severityRisk(own, thresholds));
    if (own && isAtLeast(own, severity)) severity = own;
  }
  // The risk agrees with the severity: a severity an evidence floor sets is not shown with a risk below its threshold.
  if (severity === 'high') risk = Math.max(risk, thresholds.high);
  else if (severity === 'medium') risk = Math.max(risk, thresholds.medium);
  const proven = evidence.some((e) => e.kind === 'attack' && e.outcome === 'rebuilt');
  const verdict: ModelVerdict = { severity, risk: round3(risk), headline: '', proven, evidence };
  verdict.headline = headlineOf(verdict);
  return verdict;
}

/**
 * A model's report with the attacks run on its file as evidence (`audit --attack`): its verdict, risk and severity
 * decided again, so that every report format shows the same verdict. Attacks on other files are ignored.
 */
export function withAttackReports(report: ModelReport, attacks: readonly AttackReport[]): ModelReport {
  const own = attacks.filter((a) => a.file === report.file);
  return own.length === 0 ? report : withEvidence(report, own.map(attackEvidence));
}

/** The verdict again with the attacks' evidence in place of any earlier attack evidence. */
export function withAttacks(verdict: ModelVerdict, attacks: readonly AttackReport[], thresholds: Thresholds): ModelVerdict {
  const kept = verdict.evidence.filter((e) => e.kind !== 'attack');
  return decideVerdict([...kept, ...attacks.map(attackEvidence)], thresholds);
}

function severityRisk(severity: Severity | undefined, thresholds: Thresholds): number {
  return severity === 'high' ? thresholds.high : severity === 'medium' ? thresholds.medium : 0;
}

export function severityOf(risk: number, thresholds: Thresholds): Severity {
  return risk >= thresholds.high ? 'high' : risk >= thresholds.medium ? 'medium' : 'low';
}

/** The lower of two severities: a layer finding is never shown above the verdict of its model. */
export function capSeverity(severity: Severity, cap: Severity): Severity {
  return SEVERITIES.indexOf(severity) > SEVERITIES.indexOf(cap) ? cap : severity;
}

export { evidenceSentence };

function round1(x: number) {
  return Math.round(x * 10) / 10;
}

function round3(x: number) {
  return Math.round(x * 1000) / 1000;
}

/** A layer finding's own severity: its risk's, and never below medium for a layer LeakLint could not analyse. */
export function layerSeverity(status: string, risk: number, thresholds: Thresholds): Severity {
  const severity = severityOf(risk, thresholds);
  return status === 'not-analysed' && severity === 'low' ? 'medium' : severity;
}

/**
 * The report with more evidence (an attack's, the Jacobian rank's) in its verdict: evidence of the same kind and basis
 * is replaced, the model's severity and risk follow the new verdict, and every layer finding is capped again.
 */
export function withEvidence(report: ModelReport, evidence: Evidence[]): ModelReport {
  const replaced = (e: Evidence) =>
    evidence.some((n) => n.kind === e.kind && (n.kind !== 'gradient-matching' || e.kind !== 'gradient-matching' || n.basis === e.basis));
  const verdict = decideVerdict([...report.model.verdict.evidence.filter((e) => !replaced(e)), ...evidence], report.thresholds);
  return {
    ...report,
    model: { ...report.model, severity: verdict.severity, risk: verdict.risk, verdict },
    layers: report.layers.map((l) => ({ ...l, severity: capSeverity(layerSeverity(l.status, l.risk, report.thresholds), verdict.severity) })),
  };
}
