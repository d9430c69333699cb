// The leaklint command line: argument parsing and exit codes; the work is in layers.ts and audit.ts.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  ATTACK_METHODS,
  ConfigError,
  FAIL_ON_VALUES,
  REPORT_FORMATS,
  SARIF_DEFAULT_MIN_LEVEL,
  SEVERITIES,
  TOOL,
  type AttackMethod,
  type FailOn,
  type InputShapeOption,
  type ReportFormat,
  type Severity,
} from '../engine';
import { runAttackCommand } from './attack';
import { runAudit } from './audit';
import { CliError, ExitCode, parseShape, printLine, type CliContext } from './context';
import { runLayers } from './layers';

interface LayersCliOptions {
  format: 'table' | 'json';
  inputShape?: InputShapeOption;
}

interface AuditCliOptions {
  format: ReportFormat[];
  quick?: boolean;
  identifiability?: boolean;
  exactIdentifiability?: boolean;
  out?: string;
  failOn?: FailOn;
  inputShape?: InputShapeOption;
  config?: string;
  surrogateWeights?: boolean;
  fixes: boolean;
  quiet?: boolean;
  attack?: boolean;
  attackImages?: number;
  attackMethod?: AttackMethod;
  attackIterations?: number;
  attackRestarts?: number;
  attackTvWeight?: number;
  attackTimeBudget?: number;
  refine?: boolean;
  baseline?: string;
  sarifRoot?: string;
  sarifMinLevel?: Severity;
}

interface AttackCliOptions {
  config?: string;
  image?: string;
  maxImages?: number;
  label?: number;
  out: string;
  method?: AttackMethod;
  iterations?: number;
  restarts?: number;
  tvWeight?: number;
  timeBudget?: number;
  refine?: boolean;
  refineBudget?: number;
  gradients?: string;
  mean?: number[];
  std?: number[];
  inputShape?: InputShapeOption;
  format: ReportFormat[];
  failOnLeak?: boolean;
  quiet?: boolean;
}

/** Parses `argv` (user arguments only) and runs the command; returns the exit code instead of exiting. */
export async function runCli(argv: readonly string[], context: CliContext): Promise<ExitCode> {
  let exitCode: ExitCode = ExitCode.clean;
  const program = buildProgram(context, (code) => (exitCode = code));
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    // Help and --version exit 0; every other commander error is bad usage, which is exit 2 (1 means findings).
    if (e instanceof CommanderError) return e.exitCode === 0 ? ExitCode.clean : ExitCode.error;
    if (e instanceof CliError || e instanceof ConfigError) {
      printLine(context, e.message);
      return ExitCode.error;
    }
    // A stack trace only on request (and then as it is): a message can quote a model's names.
    if (process.env.LEAKLINT_DEBUG && e instanceof Error && e.stack) context.stderr(`leaklint: internal error: ${e.stack}\n`);
    else printLine(context, `internal error: ${String((e as Error)?.message ?? e)}`);
    return ExitCode.error;
  }
  return exitCode;
}

/** The command line's commands and options (the contract test reads their definitions). */
export function buildProgram(context: CliContext, setExitCode: (code: ExitCode) => void): Command {
  const program = new Command()
    .name('leaklint')
    .description('Lint image-classifier models (ONNX, TensorFlow.js) for training-data leakage through gradients.')
    .version(TOOL.version, '-V, --version')
    // Settings made before .command() are inherited by the subcommands.
    .exitOverride()
    .configureOutput({
      writeOut: (text) => context.stdout(text),
      writeErr: (text) => context.stderr(text),
      outputError: (text, write) => write(`leaklint: ${text.replace(/^error: /, '')}`),
    })
    .showHelpAfterError('(add --help for usage)');

  program
    .command('layers')
    .description('List the layers of a model as LeakLint reads them (op, shapes, parameter count, status).')
    .argument('<model>', 'an .onnx file or a TF.js model.json')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .addOption(inputShapeOption())
    .action(async (model: string, options: LayersCliOptions) => {
      setExitCode(await runLayers(model, { format: options.format, inputShape: options.inputShape }, context));
    });

  program
    .command('audit')
    .description('Analyse models for gradient leakage and write a report. Exit 0: clean, 1: findings, 2: error.')
    .argument('<paths...>', 'model files or folders (searched recursively)')
    .addOption(
      new Option('--format <formats>', `report format, or several separated by commas with --out <folder>/ (${REPORT_FORMATS.join(', ')})`)
        .argParser(parseFormats)
        .default(['table'], 'table'),
    )
    .option('--out <file>', 'write the report to this file (or folder) instead of stdout')
    .addOption(
      new Option('--fail-on <severity>', 'exit 1 when an issue is at or above this severity (default: config, else high)').choices([...FAIL_ON_VALUES]),
    )
    .addOption(inputShapeOption())
    .option('--config <file>', 'configuration file (default: ./leaklint.config.json if present)')
    .option('--surrogate-weights', "analyse the architecture with Gaussian weights instead of the file's weights")
    .option('--no-fixes', 'do not compute suggested fixes (faster)')
    .option('--quick', 'counts and structural bounds only, no numerical ranks (fastest)')
    .option('--no-identifiability', "do not measure the rank of the gradients' Jacobian with respect to the image (the gradient-matching evidence)")
    .option('--exact-identifiability', "the gradients' Jacobian rank without any cap (per-layer ranks exact too; minutes per model)")
    .addOption(quietOption())
    .addOption(progressOption())
    .addOption(new Option('--baseline <report.json>', 'a previous JSON report: report and fail only on findings that are new or got worse since'))
    .addOption(sarifRootOption())
    .addOption(sarifMinLevelOption())
    .option('--attack', 'also run the reconstruction attack on sample images (needs --out <folder>/; adds the image pairs to the reports)')
    .addOption(new Option('--attack-images <n>', 'sample images per model for --attack').argParser(positiveInteger).default(3))
    .addOption(methodOption('--attack-method <method>', 'with --attack: '))
    .addOption(new Option('--attack-iterations <n>', 'with --attack: gradient-matching Adam steps per run (default 2000)').argParser(positiveInteger))
    .addOption(new Option('--attack-restarts <n>', 'with --attack: gradient-matching runs from noise (default 2)').argParser(positiveInteger))
    .addOption(new Option('--attack-tv-weight <w>', 'with --attack: total-variation weight of gradient matching (default 0.001)').argParser(nonNegativeNumber))
    .addOption(new Option('--attack-time-budget <seconds>', 'with --attack: time budget of the attack on one model (default 300)').argParser(positiveInteger))
    .option('--refine', 'with --attack: run the gradient-matching correction after each conv layer')
    .action(async (paths: string[], options: AuditCliOptions) => {
      setExitCode(
        await runAudit(
          paths,
          {
            format: options.format,
            out: options.out,
            failOn: options.failOn,
            inputShape: options.inputShape,
            config: options.config,
            surrogateWeights: options.surrogateWeights,
            // commander sets `fixes` to true unless --no-fixes: only the flag overrides the config.
            fixes: options.fixes === false ? false : undefined,
            quick: options.quick,
            // commander sets `identifiability` to true unless --no-identifiability: only the flag overrides the config.
            identifiability: options.identifiability === false ? false : options.exactIdentifiability ? 'exact' : undefined,
            quiet: options.quiet === true,
            attack: options.attack
              ? {
                  maxImages: options.attackImages ?? 3,
                  refine: options.refine,
                  method: options.attackMethod,
                  iterations: options.attackIterations,
                  restarts: options.attackRestarts,
                  tvWeight: options.attackTvWeight,
                  timeBudgetSeconds: options.attackTimeBudget,
                }
              : undefined,
            baseline: options.baseline,
            sarifRoot: options.sarifRoot,
            sarifMinLevel: options.sarifMinLevel,
          },
          context,
        ),
      );
    });

  addAttackCommand(program, context, setExitCode);
  return program;
}

function addAttackCommand(program: Command, context: CliContext, setExitCode: (code: ExitCode) => void): void {
  program
    .command('attack')
    .description(
      'Run the reconstruction attack: one simulated training step per image, then rebuild each image from its gradients. Writes PNGs and JSON. Exit 0: done (1 with --fail-on-leak when an image comes back), 2: error.',
    )
    .argument('<model>', 'an .onnx file or a TF.js model.json')
    .option(
      '--image <file|folder>',
      'an image, or a folder of .png/.jpg images (default: the bundled CC0 samples); with --gradients, the true image to measure against',
    )
    .addOption(new Option('--max-images <n>', 'attack at most this many images of the folder').argParser(positiveInteger))
    .addOption(new Option('--label <n>', 'class of the simulated training step (default: image index modulo the classes)').argParser(nonNegativeInteger))
    .option('--out <folder>', 'where images and attack.json are written', 'leaklint-attack')
    .addOption(methodOption('--method <method>', ''))
    .addOption(new Option('--iterations <n>', 'gradient matching: Adam steps per run (default 2000)').argParser(positiveInteger))
    .addOption(new Option('--restarts <n>', 'gradient matching: runs from noise, the best kept (default 2)').argParser(positiveInteger))
    .addOption(new Option('--tv-weight <w>', 'gradient matching: total-variation weight (default 0.001)').argParser(nonNegativeNumber))
    .addOption(
      new Option('--time-budget <seconds>', 'time budget of the attack; gradient matching stops in time with its best image (default 300)').argParser(
        positiveInteger,
      ),
    )
    .option('--refine', 'run the gradient-matching correction after each conv layer (slower, better on deficient layers)')
    .addOption(new Option('--refine-budget <seconds>', 'time budget of the correction step').argParser(positiveNumber))
    .option('--gradients <file.safetensors>', 'gradients a real client shared (one tensor per parameter) instead of simulating a step')
    .addOption(new Option('--mean <values>', 'input normalisation mean per channel, on [0,1] images (x − mean)/std').argParser(numberList))
    .addOption(new Option('--std <values>', 'input normalisation std per channel').argParser(numberList))
    .addOption(inputShapeOption())
    .option('--config <file>', 'configuration file (default: ./leaklint.config.json if present)')
    .addOption(new Option('--format <formats>', 'reports to write besides attack.json (markdown, html)').argParser(parseFormats).default([], 'none'))
    .option('--fail-on-leak', 'exit 1 when an image is rebuilt recognisably (PSNR ≥ 18 dB or SSIM ≥ 0.5, as the verdict counts it)')
    .addOption(quietOption())
    .addOption(progressOption())
    .action(async (model: string, options: AttackCliOptions) => {
      setExitCode(
        await runAttackCommand(
          model,
          {
            image: options.image,
            maxImages: options.maxImages,
            label: options.label,
            out: options.out,
            method: options.method,
            iterations: options.iterations,
            restarts: options.restarts,
            tvWeight: options.tvWeight,
            timeBudgetSeconds: options.timeBudget,
            refine: options.refine,
            refineBudgetSeconds: options.refineBudget,
            config: options.config,
            gradients: options.gradients,
            mean: options.mean,
            std: options.std,
            inputShape: options.inputShape,
            format: options.format,
            failOnLeak: options.failOnLeak === true,
            quiet: options.quiet === true,
          },
          context,
        ),
      );
    });
}

function methodOption(flags: string, prefix: string): Option {
  return new Option(
    flags,
    `${prefix}how to rebuild the images: closed-form (R-GAP recursion), gradient-matching (Inverting Gradients from noise), hybrid (closed form, then gradient matching from its image), auto (closed form where it determines the image, else the best of hybrid and gradient matching; default)`,
  ).choices([...ATTACK_METHODS]);
}

function sarifRootOption(): Option {
  return new Option(
    '--sarif-root <folder>',
    'SARIF URIs are relative to this folder (default: the repository root, found by its .git, else the working folder)',
  );
}

function sarifMinLevelOption(): Option {
  return new Option('--sarif-min-level <severity>', 'lowest severity of a layer finding that becomes a SARIF result (the model verdict always does)')
    .choices([...SEVERITIES].reverse())
    .default(SARIF_DEFAULT_MIN_LEVEL);
}

function quietOption(): Option {
  return new Option('-q, --quiet', 'no progress on stderr (a live line on a terminal, a line per model otherwise); errors and warnings are still printed');
}

/** Progress is shown by default now; the flag that used to ask for it off a terminal is still accepted. */
function progressOption(): Option {
  return new Option('--progress', 'print progress on stderr (the default)').hideHelp();
}

function inputShapeOption(): Option {
  return new Option(
    '--input-shape <dims>',
    'input shape for dynamic dimensions, in the file layout (NCHW for ONNX, NHWC for TF.js), e.g. 1,3,32,32; name=1,3,48,192 for a named input (repeatable)',
  ).argParser(parseShapeArgument);
}

function parseFormats(value: string): ReportFormat[] {
  const formats = value.split(',').map((f) => f.trim());
  const unknown = formats.filter((f) => !(REPORT_FORMATS as readonly string[]).includes(f));
  if (unknown.length || formats.length === 0) throw new InvalidArgumentError(`unknown format ${unknown.join(', ')}; choose from ${REPORT_FORMATS.join(', ')}`);
  return [...new Set(formats)] as ReportFormat[];
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!(n >= 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number of at least 0');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a positive number');
  return n;
}

function numberList(value: string): number[] {
  const values = value.split(',').map((v) => Number(v.trim()));
  if (!values.length || values.some((v) => !Number.isFinite(v))) throw new InvalidArgumentError('expected numbers separated by commas, e.g. 0.485,0.456,0.406');
  return values;
}

function parseShapeArgument(value: string, previous: InputShapeOption | undefined): InputShapeOption {
  try {
    return parseShape(value, previous);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

if (require.main === module) {
  // `leaklint audit . | head` closes the pipe early; that is not an error worth a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  void runCli(process.argv.slice(2), {
    cwd: process.cwd(),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stderrIsTTY: process.stderr.isTTY === true,
    stderrColumns: process.stderr.columns,
  }).then((code) => {
    process.exitCode = code;
  });
}
