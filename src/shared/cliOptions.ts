// Where each option of `leaklint layers`, `audit` and `attack` is in the extension: a setting, a command, or what the
// editor does instead (output-only options). One table: docs/extension.md's "CLI option → extension" shows it as it
// is, and a unit test (test/unit/contract.test.ts) fails when a command-line option has no entry, when an entry names
// an option the CLI does not have, or when the documentation differs.

/** The commands whose options the extension covers. */
export const MAPPED_CLI_COMMANDS = ['layers', 'audit', 'attack'] as const;
export type MappedCliCommand = (typeof MAPPED_CLI_COMMANDS)[number];

export interface CliOptionReach {
  command: MappedCliCommand;
  /** The option's long flag, as `--help` lists it (`--no-fixes`). */
  option: string;
  /** Where it is in the extension (Markdown). */
  extension: string;
}

const PROGRESS = 'Progress is always shown (status bar, notifications, the views); the *LeakLint* output channel logs each step';

export const CLI_OPTION_REACH: readonly CliOptionReach[] = [
  {
    command: 'layers',
    option: '--format',
    extension: '*Show Model Layers (reader view)* shows the table as text; the Layer View shows it as a table with the analysis',
  },
  { command: 'layers', option: '--input-shape', extension: '`leaklint.inputShape`' },
  {
    command: 'audit',
    option: '--format',
    extension:
      '*Export Report*: the format asked for (JSON, SARIF, Markdown, HTML, text table); `table` on a terminal is the Problems panel and the LeakLint view',
  },
  { command: 'audit', option: '--out', extension: "*Export Report*'s save dialog (scripts pass the target as the command's second argument)" },
  { command: 'audit', option: '--fail-on', extension: '`leaklint.failOn`: findings at or above it are errors in Problems' },
  { command: 'audit', option: '--input-shape', extension: '`leaklint.inputShape`' },
  { command: 'audit', option: '--config', extension: '`leaklint.configFile` (relative to the workspace folder, inside it)' },
  { command: 'audit', option: '--surrogate-weights', extension: '`leaklint.surrogateWeights`' },
  { command: 'audit', option: '--no-fixes', extension: '`leaklint.fixes`: `false`' },
  { command: 'audit', option: '--quick', extension: '`leaklint.quick`' },
  { command: 'audit', option: '--no-identifiability', extension: '`leaklint.identifiability`: `false` (untrusted workspaces never run it)' },
  { command: 'audit', option: '--exact-identifiability', extension: '`leaklint.identifiability`: `"exact"`' },
  { command: 'audit', option: '--quiet', extension: `${PROGRESS}; *Developer: Set Log Level* quietens it` },
  { command: 'audit', option: '--progress', extension: PROGRESS },
  { command: 'audit', option: '--baseline', extension: '`leaklint.export.baseline`, used by *Export Report*' },
  { command: 'audit', option: '--sarif-root', extension: '*Export Report* writes SARIF URIs relative to the workspace folder' },
  { command: 'audit', option: '--sarif-min-level', extension: '`leaklint.export.sarifMinLevel`, used by *Export Report*' },
  { command: 'audit', option: '--attack', extension: '*Show Reconstructions* runs the same attack on a model and shows the image pairs' },
  { command: 'audit', option: '--attack-images', extension: '`leaklint.attack.maxImages`' },
  { command: 'audit', option: '--attack-method', extension: '`leaklint.attack.method`' },
  { command: 'audit', option: '--attack-iterations', extension: '`leaklint.attack.iterations`' },
  { command: 'audit', option: '--attack-restarts', extension: '`leaklint.attack.restarts`' },
  { command: 'audit', option: '--attack-tv-weight', extension: '`leaklint.attack.tvWeight`' },
  { command: 'audit', option: '--attack-time-budget', extension: '`leaklint.attack.timeBudgetSeconds`' },
  { command: 'audit', option: '--refine', extension: '`leaklint.attack.refine`' },
  {
    command: 'attack',
    option: '--image',
    extension: "`leaklint.attack.sampleImages` (a folder); with shared gradients, *Reconstruct from Shared Gradients…*'s original-image picker",
  },
  { command: 'attack', option: '--max-images', extension: '`leaklint.attack.maxImages`' },
  { command: 'attack', option: '--label', extension: '`leaklint.attack.label`' },
  { command: 'attack', option: '--out', extension: "The reconstruction view shows the images (written to the extension's storage folder)" },
  { command: 'attack', option: '--method', extension: '`leaklint.attack.method`' },
  { command: 'attack', option: '--iterations', extension: '`leaklint.attack.iterations`' },
  { command: 'attack', option: '--restarts', extension: '`leaklint.attack.restarts`' },
  { command: 'attack', option: '--tv-weight', extension: '`leaklint.attack.tvWeight`' },
  { command: 'attack', option: '--time-budget', extension: '`leaklint.attack.timeBudgetSeconds`' },
  { command: 'attack', option: '--refine', extension: '`leaklint.attack.refine`' },
  { command: 'attack', option: '--refine-budget', extension: '`leaklint.attack.refineBudgetSeconds`' },
  { command: 'attack', option: '--gradients', extension: '*Reconstruct from Shared Gradients…* (asks for the .safetensors file)' },
  { command: 'attack', option: '--mean', extension: '`leaklint.attack.inputMean`' },
  { command: 'attack', option: '--std', extension: '`leaklint.attack.inputStd`' },
  { command: 'attack', option: '--input-shape', extension: '`leaklint.inputShape`' },
  { command: 'attack', option: '--config', extension: '`leaklint.configFile` (relative to the workspace folder, inside it)' },
  { command: 'attack', option: '--format', extension: 'The reconstruction view shows what the Markdown and HTML attack reports hold' },
  { command: 'attack', option: '--fail-on-leak', extension: "The reconstruction view's verdict says whether an image came back recognisably" },
  { command: 'attack', option: '--quiet', extension: `${PROGRESS}; *Developer: Set Log Level* quietens it` },
  { command: 'attack', option: '--progress', extension: PROGRESS },
];

/** The documentation's table of CLI_OPTION_REACH, as docs/extension.md holds it. */
export function cliOptionReachTable(): string {
  const rows = CLI_OPTION_REACH.map((r) => `| \`leaklint ${r.command} ${r.option}\` | ${r.extension} |`);
  return ['| CLI option | In the extension |', '|---|---|', ...rows].join('\n');
}
