// LeakLint settings: leaklint.config.json for the CLI, the same keys under "leaklint.*" in the extension's settings.
// The schema is schemas/leaklint.config.schema.json; keep both in step.
import * as path from 'path';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { isRuleId, RULES, SEVERITIES, type RuleId } from './analysis/rules';
import { decodeUtf8, type FileAccess } from './files/fileAccess';
import type { Severity } from './analysis/types';
import type { InputShapeOption } from './options';
import { ATTACK_METHODS, type AttackMethod } from './attack/types';
import { INVERTING_GRADIENTS_DEFAULTS } from './attack/invertingGradients';

export const CONFIG_FILE_NAME = 'leaklint.config.json';
/** A configuration file is a few hundred bytes; anything past this is not one. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Lowest severity that fails a run (exit code 1); 'none' never fails on findings. */
export type FailOn = Severity | 'none';
/** Per rule: report its findings at this severity instead of the computed one, or not at all. */
export type RuleSetting = Severity | 'off';
export type RuleSettings = Partial<Record<RuleId, RuleSetting>>;

/** Risk thresholds: risk ≥ high → high, ≥ medium → medium, else low. */
export interface Thresholds {
  high: number;
  medium: number;
}

export interface LeakLintConfig {
  failOn: FailOn;
  /** Unset: the analysis defaults. */
  thresholds?: Thresholds;
  /** Paths or globs (relative to `baseDir`) of model files and folders to skip. */
  ignore: string[];
  rules: RuleSettings;
  /**
   * Model input shape for dynamic dimensions, in the file's own layout (NCHW for ONNX, NHWC for TF.js): one shape for
   * the image input, or an object of shapes by input name.
   */
  inputShape?: InputShapeOption;
  /** Analyse the architecture with Gaussian surrogate weights instead of the file's (default false). */
  surrogateWeights?: boolean;
  /** Propose fixes, proven by re-analysing a changed copy of the model (default true). */
  fixes?: boolean;
  /** Counts and structural bounds only, no numerical ranks (default false). */
  quick?: boolean;
  /**
   * Gradient-matching identifiability: the rank of the gradient map's Jacobian at a sample image, on the background
   * runtime (default true: deterministic caps, exact for a 3×32×32 image; "exact": no caps, per layer too; never in an
   * untrusted workspace).
   */
  identifiability?: boolean | 'exact';
  /** The reconstruction attack (`audit --attack`, `attack`, the extension's Show Reconstructions). */
  attack?: AttackSettings;
  /** Folder that relative `ignore` entries (and attack.sampleImages) are resolved against (the config file's folder). */
  baseDir: string;
}

export interface AttackSettings {
  /** Folder of PNG/JPEG images, relative to baseDir (default: the bundled CC0 samples). */
  sampleImages?: string;
  /** Images per attack (default 4). */
  maxImages?: number;
  /** Input normalisation (x − mean)/std of images in [0,1]: one value or one per channel (default [0], [1]). */
  inputMean?: number[];
  inputStd?: number[];
  /** Label of the simulated training step (default: the image's index modulo the number of classes). */
  label?: number;
  /** How the images are rebuilt (default auto: the closed form where it determines the image, else gradient matching). */
  method?: AttackMethod;
  /** Gradient matching: Adam steps per run (default 2000). */
  iterations?: number;
  /** Gradient matching: runs from noise, the best kept (default 2). */
  restarts?: number;
  /** Gradient matching: weight of the total-variation prior (default 0.001). */
  tvWeight?: number;
  /** Gradient-matching correction after each conv layer (default false). */
  refine?: boolean;
  /** Time budget of the correction per image, in seconds (default 30). */
  refineBudgetSeconds?: number;
  /** Time budget of one attack job, in seconds (default 300); gradient matching stops in time with its best image. */
  timeBudgetSeconds?: number;
}

/** Defaults of the attack settings (the README, the schema and package.json say the same). */
export const ATTACK_DEFAULTS = {
  maxImages: 4,
  inputMean: [0],
  inputStd: [1],
  method: 'auto',
  iterations: INVERTING_GRADIENTS_DEFAULTS.iterations,
  restarts: INVERTING_GRADIENTS_DEFAULTS.restarts,
  tvWeight: INVERTING_GRADIENTS_DEFAULTS.tvWeight,
  refine: false,
  refineBudgetSeconds: 30,
  timeBudgetSeconds: 300,
} as const;

/** The keys of the "attack" object (also the leaklint.attack.* settings). */
export const ATTACK_KEYS = [
  'sampleImages',
  'maxImages',
  'inputMean',
  'inputStd',
  'label',
  'method',
  'iterations',
  'restarts',
  'tvWeight',
  'refine',
  'refineBudgetSeconds',
  'timeBudgetSeconds',
] as const;

export const FAIL_ON_VALUES: readonly FailOn[] = [...SEVERITIES, 'none'];
const RULE_SETTING_VALUES: readonly RuleSetting[] = ['off', ...SEVERITIES];
const KNOWN_KEYS = ['$schema', 'failOn', 'thresholds', 'ignore', 'rules', 'inputShape', 'surrogateWeights', 'fixes', 'quick', 'identifiability', 'attack'];

export function defaultConfig(baseDir: string): LeakLintConfig {
  return { failOn: 'high', ignore: [], rules: {}, baseDir };
}

/** A config that cannot be used; `source` is the file (or "settings"), `reason` one line. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly reason: string,
  ) {
    super(`${source}: ${reason}`);
    this.name = 'ConfigError';
  }
}

/**
 * Validates a parsed config object (from the file or the extension's settings) and fills in defaults.
 * Unknown keys are errors: a misspelt "failOn" must not silently fall back to the default.
 */
export function parseConfig(value: unknown, source: string, baseDir: string): LeakLintConfig {
  const fail = (reason: string): never => {
    throw new ConfigError(source, reason);
  };
  if (!isPlainObject(value)) return fail('the configuration must be a JSON object');
  const config = defaultConfig(baseDir);

  for (const key of Object.keys(value)) {
    if (!KNOWN_KEYS.includes(key)) fail(`unknown key "${key}" (known keys: ${KNOWN_KEYS.slice(1).join(', ')})`);
  }

  if (value.failOn !== undefined) {
    if (!FAIL_ON_VALUES.includes(value.failOn as FailOn)) fail(`"failOn" must be one of ${FAIL_ON_VALUES.join(', ')}`);
    config.failOn = value.failOn as FailOn;
  }

  if (value.thresholds !== undefined) {
    const t = value.thresholds;
    if (!isPlainObject(t) || !isUnitNumber(t.high) || !isUnitNumber(t.medium)) {
      fail('"thresholds" must be {"high": number, "medium": number} with values between 0 and 1');
    }
    const thresholds = t as unknown as Thresholds;
    if (thresholds.medium > thresholds.high) fail('"thresholds.medium" must not be above "thresholds.high"');
    config.thresholds = { high: thresholds.high, medium: thresholds.medium };
  }

  if (value.ignore !== undefined) {
    if (!Array.isArray(value.ignore) || !value.ignore.every((p) => typeof p === 'string' && p.length > 0)) {
      fail('"ignore" must be an array of non-empty paths or globs');
    }
    config.ignore = [...(value.ignore as string[])];
  }

  if (value.rules !== undefined) {
    if (!isPlainObject(value.rules)) fail('"rules" must be an object such as {"LL006": "off"}');
    for (const [id, setting] of Object.entries(value.rules as Record<string, unknown>)) {
      if (!isRuleId(id)) fail(`"rules" names an unknown rule "${id}" (known rules: ${RULES.map((r) => r.id).join(', ')})`);
      if (!RULE_SETTING_VALUES.includes(setting as RuleSetting)) {
        fail(`"rules.${id}" must be one of ${RULE_SETTING_VALUES.join(', ')}`);
      }
      config.rules[id as RuleId] = setting as RuleSetting;
    }
  }

  if (value.inputShape !== undefined) {
    const isShape = (shape: unknown): shape is number[] => Array.isArray(shape) && shape.length > 0 && shape.every((d) => Number.isInteger(d) && d > 0);
    const shape = value.inputShape;
    if (isShape(shape)) config.inputShape = [...shape];
    else if (isPlainObject(shape) && Object.keys(shape).length > 0 && Object.values(shape).every(isShape)) {
      config.inputShape = { named: Object.fromEntries(Object.entries(shape).map(([name, dims]) => [name, [...(dims as number[])]])) };
    } else {
      fail('"inputShape" must be a non-empty array of positive integers, e.g. [1, 3, 32, 32], or an object of them by input name');
    }
  }

  if (value.identifiability !== undefined) {
    if (value.identifiability !== true && value.identifiability !== false && value.identifiability !== 'exact')
      fail('"identifiability" must be true, false or "exact"');
    config.identifiability = value.identifiability as boolean | 'exact';
  }

  for (const key of ['surrogateWeights', 'fixes', 'quick'] as const) {
    if (value[key] === undefined) continue;
    if (typeof value[key] !== 'boolean') fail(`"${key}" must be true or false`);
    config[key] = value[key] as boolean;
  }

  if (value.attack !== undefined) config.attack = parseAttackSettings(value.attack, fail);
  return config;
}

function parseAttackSettings(value: unknown, fail: (reason: string) => never): AttackSettings {
  if (!isPlainObject(value)) return fail('"attack" must be an object such as {"maxImages": 4}');
  for (const key of Object.keys(value)) {
    if (!(ATTACK_KEYS as readonly string[]).includes(key)) fail(`unknown key "attack.${key}" (known keys: ${ATTACK_KEYS.join(', ')})`);
  }
  const settings: AttackSettings = {};
  const integer = (key: 'maxImages' | 'label' | 'timeBudgetSeconds' | 'iterations' | 'restarts', min: number) => {
    const v = value[key];
    if (v === undefined) return;
    if (!Number.isInteger(v) || (v as number) < min) fail(`"attack.${key}" must be an integer of at least ${min}`);
    settings[key] = v as number;
  };
  integer('maxImages', 1);
  integer('label', 0);
  integer('timeBudgetSeconds', 1);
  integer('iterations', 1);
  integer('restarts', 1);
  if (value.method !== undefined) {
    if (!ATTACK_METHODS.includes(value.method as AttackMethod)) fail(`"attack.method" must be one of ${ATTACK_METHODS.join(', ')}`);
    settings.method = value.method as AttackMethod;
  }
  if (value.tvWeight !== undefined) {
    const v = value.tvWeight;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail('"attack.tvWeight" must be a number of at least 0');
    settings.tvWeight = v as number;
  }
  if (value.sampleImages !== undefined) {
    if (typeof value.sampleImages !== 'string' || value.sampleImages === '') fail('"attack.sampleImages" must be a folder path');
    settings.sampleImages = value.sampleImages as string;
  }
  for (const key of ['inputMean', 'inputStd'] as const) {
    const v = value[key];
    if (v === undefined) continue;
    const positive = key === 'inputStd';
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0))) {
      fail(`"attack.${key}" must be a non-empty array of ${positive ? 'positive ' : ''}numbers, one value or one per channel`);
    }
    settings[key] = [...(v as number[])];
  }
  if (value.refine !== undefined) {
    if (typeof value.refine !== 'boolean') fail('"attack.refine" must be true or false');
    settings.refine = value.refine as boolean;
  }
  if (value.refineBudgetSeconds !== undefined) {
    const v = value.refineBudgetSeconds;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail('"attack.refineBudgetSeconds" must be a positive number');
    settings.refineBudgetSeconds = v as number;
  }
  return settings;
}

/** Reads and validates a config file (JSON with comments allowed). Throws ConfigError. */
export async function loadConfigFile(files: FileAccess, file: string): Promise<LeakLintConfig> {
  const abs = path.resolve(file);
  return parseConfig(await readConfigValue(files, abs), abs, path.dirname(abs));
}

/** A config file's JSON value, not yet validated (the extension merges its settings into it). Throws ConfigError. */
export async function readConfigValue(files: FileAccess, file: string): Promise<unknown> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = decodeUtf8(await files.readFile(abs, MAX_CONFIG_BYTES));
  } catch {
    throw new ConfigError(abs, 'cannot read the configuration file');
  }
  const errors: ParseError[] = [];
  const value: unknown = parseJsonc(text, errors, { allowTrailingComma: true });
  if (errors.length > 0) {
    const first = errors[0];
    const line = text.slice(0, first.offset).split('\n').length;
    throw new ConfigError(abs, `invalid JSON at line ${line}: ${printParseErrorCode(first.error)}`);
  }
  return value;
}

/** leaklint.config.json in `dir`, if there is one. */
export async function findConfigFile(files: FileAccess, dir: string): Promise<string | undefined> {
  const candidate = path.join(dir, CONFIG_FILE_NAME);
  return (await files.stat(candidate).then(
    () => true,
    () => false,
  ))
    ? candidate
    : undefined;
}

/** The severity a finding is reported at after the rule settings, or 'off' when its rule is switched off. */
export function effectiveSeverity(ruleId: string, computed: Severity, rules: RuleSettings): RuleSetting {
  return (isRuleId(ruleId) ? rules[ruleId] : undefined) ?? computed;
}

/**
 * Matcher for the config's `ignore` entries, gitignore-like: an entry without "/" matches a file or folder name at
 * any depth ("*.onnx", "node_modules"); an entry with "/" is anchored at `baseDir` ("test/fixtures/**"); a folder
 * entry ignores everything below it. Globs: `*`, `?` and `**`.
 */
export function createIgnoreMatcher(patterns: readonly string[], baseDir: string): (file: string) => boolean {
  const matchers = patterns.map((pattern) => globToRegExp(toAnchoredPattern(pattern, baseDir)));
  return (file) => {
    if (matchers.length === 0) return false;
    const relative = path.relative(baseDir, path.resolve(baseDir, file)).split(path.sep).join('/');
    const segments = relative.split('/');
    // Test the path and each folder above it, so that ignoring a folder ignores its contents.
    for (let n = 1; n <= segments.length; n++) {
      const prefix = segments.slice(0, n).join('/');
      if (matchers.some((re) => re.test(prefix))) return true;
    }
    return false;
  };
}

function toAnchoredPattern(pattern: string, baseDir: string): string {
  let p = pattern.trim();
  if (path.isAbsolute(p)) p = path.relative(baseDir, p);
  p = p.split(path.sep).join('/').replace(/^\.\//, '').replace(/\/+$/, '');
  return p.includes('/') ? p.replace(/^\//, '') : `**/${p}`;
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      const followedBySlash = glob[i + 2] === '/';
      source += followedBySlash ? '(?:.*/)?' : '.*';
      i += followedBySlash ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isUnitNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 1;
}
