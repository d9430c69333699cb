// The rule catalogue: stable ids that findings, SARIF, the Problems panel and docs/rules.md all refer to.
// Ids never change meaning once published; retire an id rather than reuse it.
import type { Severity } from './types';

export type RuleId = 'LL001' | 'LL002' | 'LL003' | 'LL004' | 'LL005' | 'LL006' | 'LL010';

export interface Rule {
  id: RuleId;
  /** kebab-case name, stable like the id. */
  name: string;
  /** One line, shown next to a result. */
  shortDescription: string;
  /** What the rule detects and why it matters, in two or three sentences. */
  fullDescription: string;
  /** What to do about it. */
  help: string;
  /** Severity a finding of this rule usually has; each finding carries its own, computed from its risk. */
  defaultSeverity: Severity;
  tags: string[];
}

const DOCS_URL = 'https://github.com/leaklint/leaklint/blob/main/docs/rules.md';

export const RULES: readonly Rule[] = [
  {
    id: 'LL001',
    name: 'layer-input-recoverable',
    shortDescription: 'Layer input fully recoverable from its gradients',
    fullDescription:
      "The layer's linear system (gradient equations plus forward equations) has full column rank: an attacker who " +
      'holds the shared gradients and the weights can solve for every entry of the layer input in closed form (R-GAP, COPA).',
    help:
      'Make the layer under-determined: fewer filters or units, a larger stride, or a pooling layer before it; or train ' +
      "with DP-SGD (Opacus, TF Privacy), secure aggregation or larger batches so that one example's gradient is not shared.",
    defaultSeverity: 'high',
    tags: ['privacy', 'gradient-leakage'],
  },
  {
    id: 'LL002',
    name: 'layer-input-partly-recoverable',
    shortDescription: 'Layer input partly recoverable from its gradients',
    fullDescription:
      'The layer is under-determined (rank deficiency > 0), but most input dimensions are solvable from its gradients. ' +
      'A minimum-norm solution plus an image prior or gradient matching usually recovers a recognisable input.',
    help:
      'Increase the deficiency where it matters most (close to the input): fewer filters, a larger stride or pooling; ' +
      'the suggested fixes show the effect of each change on the risk.',
    defaultSeverity: 'medium',
    tags: ['privacy', 'gradient-leakage'],
  },
  {
    id: 'LL003',
    name: 'dense-bias-leak',
    shortDescription: 'Fully connected layer with bias leaks its input exactly',
    fullDescription:
      'For a fully connected layer with a bias, dividing one row of the weight gradient by the matching bias gradient ' +
      'returns the layer input exactly. A wide dense layer directly on the image returns the image itself.',
    help: 'Put convolution and pooling layers before the first dense layer, drop its bias, or train with DP-SGD or secure ' + 'aggregation.',
    defaultSeverity: 'high',
    tags: ['privacy', 'gradient-leakage'],
  },
  {
    id: 'LL004',
    name: 'closed-form-chain-broken',
    shortDescription: 'Closed-form attack stops at this layer',
    fullDescription:
      'Max pooling, training-mode batch normalisation, a non-invertible activation or an unsupported op stops the ' +
      'layer-by-layer closed-form reconstruction here. Gradient-matching attacks (DLG, Inverting Gradients) can still ' +
      'continue past it, so this is no guarantee of privacy.',
    help: 'Informational: layers before this one are only reachable by optimisation-based attacks. Do not rely on it as a defence.',
    defaultSeverity: 'low',
    tags: ['privacy', 'gradient-leakage', 'coverage'],
  },
  {
    id: 'LL005',
    name: 'layer-not-analysed',
    shortDescription: 'Layer not analysed (coverage gap)',
    fullDescription:
      'LeakLint could not analyse this layer: an unsupported op, a shape it could not resolve, or a layer over the ' +
      'memory or time budget. Its leakage is unknown, which is never the same as safe.',
    help:
      'Give the input shape (--input-shape) if shapes are dynamic, raise the analysis budget, or open an issue with the ' +
      'op name so that it can be supported.',
    defaultSeverity: 'medium',
    tags: ['privacy', 'coverage'],
  },
  {
    id: 'LL006',
    name: 'uncovered-input',
    shortDescription: 'Input entries no window covers',
    fullDescription:
      'Some input entries are never inside a convolution or pooling window (stride and padding do not fit the input ' +
      'size). They cannot be recovered from this layer, nor do they influence the output.',
    help:
      'Usually harmless for privacy; it often signals a stride/padding mismatch that also wastes input. Adjust the padding ' +
      'so that every pixel is used, or crop the input.',
    defaultSeverity: 'low',
    tags: ['privacy', 'architecture'],
  },
  {
    id: 'LL010',
    name: 'model-image-recoverable',
    shortDescription: "Training image recoverable from the model's gradients",
    fullDescription:
      'Across all layers, the rank analysis (COPA index, RA-i) says the training image can be reconstructed from the ' +
      'gradients of one training step. This is the model-level verdict that combines the layer findings.',
    help:
      'Apply the suggested layer fixes starting from the layer closest to the input, or protect the gradients: DP-SGD, ' +
      'secure aggregation, larger local batches.',
    defaultSeverity: 'high',
    tags: ['privacy', 'gradient-leakage'],
  },
];

const RULES_BY_ID = new Map<string, Rule>(RULES.map((rule) => [rule.id, rule]));

export function isRuleId(id: string): id is RuleId {
  return RULES_BY_ID.has(id);
}

export function getRule(id: string): Rule | undefined {
  return RULES_BY_ID.get(id);
}

/** Index of the rule in RULES (SARIF ruleIndex), or -1. */
export function ruleIndex(id: string): number {
  return RULES.findIndex((rule) => rule.id === id);
}

/** Link to the rule's section of docs/rules.md (GitHub heading anchors are lower-cased). */
export function ruleHelpUri(id: string): string {
  return `${DOCS_URL}#${id.toLowerCase()}`;
}

export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high'];

/** True when `severity` is at least as serious as `threshold`. */
export function isAtLeast(severity: Severity, threshold: Severity): boolean {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(threshold);
}
