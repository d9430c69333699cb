// The leaklint command line: argument parsing and exit codes; the work is in layers.ts and audit.ts.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError, FAIL_ON_VALUES, type FailOn } from '../engine/config';
import { REPORT_FORMATS, type ReportFormat } from '../engine/reports';
import { runAudit } from './audit';
import { CliError, ExitCode, parseShape, TOOL, type CliContext } from './context';
import { runLayers } from './layers';

interface LayersCliOptions {
  format: 'table' | 'json';
  inputShape?: number[];
}

interface AuditCliOptions {
  format: ReportFormat[];
  quick?: boolean;
  out?: string;
  failOn?: FailOn;
  inputShape?: number[];
  config?: string;
  surrogateWeights?: boolean;
  fixes: boolean;
  progress?: boolean;
}

/** Parses `argv` (user arguments only) and runs the command; returns the exit code instead of exiting. */
export function runCli(argv: readonly string[], context: CliContext): ExitCode {
  let exitCode: ExitCode = ExitCode.clean;
  const program = buildProgram(context, (code) => (exitCode = code));
  try {
    program.parse([...argv], { from: 'user' });
  } catch (e) {
    // Help and --version exit 0; every other commander error is bad usage, which is exit 2 (1 means findings).
    if (e instanceof CommanderError) return e.exitCode === 0 ? ExitCode.clean : ExitCode.error;
    if (e instanceof CliError || e instanceof ConfigError) {
      context.stderr(`leaklint: ${e.message}\n`);
      return ExitCode.error;
    }
    const detail = process.env.LEAKLINT_DEBUG && e instanceof Error && e.stack ? e.stack : String((e as Error)?.message ?? e);
    context.stderr(`leaklint: internal error: ${detail}\n`);
    return ExitCode.error;
  }
  return exitCode;
}

function buildProgram(context: CliContext, setExitCode: (code: ExitCode) => void): Command {
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
    .action((model: string, options: LayersCliOptions) => {
      setExitCode(runLayers(model, { format: options.format, inputShape: options.inputShape }, context));
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
      new Option('--fail-on <severity>', 'exit 1 when an issue is at or above this severity (default: config, else high)').choices([
        ...FAIL_ON_VALUES,
      ]),
    )
    .addOption(inputShapeOption())
    .option('--config <file>', 'configuration file (default: ./leaklint.config.json if present)')
    .option('--surrogate-weights', "analyse the architecture with Gaussian weights instead of the file's weights")
    .option('--no-fixes', 'do not compute suggested fixes (faster)')
    .option('--quick', 'counts and structural bounds only, no numerical ranks (fastest)')
    .option('--progress', 'print progress on stderr even when it is not a terminal')
    .action((paths: string[], options: AuditCliOptions) => {
      setExitCode(
        runAudit(
          paths,
          {
            format: options.format,
            out: options.out,
            failOn: options.failOn,
            inputShape: options.inputShape,
            config: options.config,
            surrogateWeights: options.surrogateWeights === true,
            fixes: options.fixes,
            quick: options.quick === true,
            progress: options.progress === true,
          },
          context,
        ),
      );
    });

  return program;
}

function inputShapeOption(): Option {
  return new Option(
    '--input-shape <dims>',
    'input shape for dynamic dimensions, in the file layout (NCHW for ONNX, NHWC for TF.js), e.g. 1,3,32,32',
  ).argParser(parseShapeArgument);
}

function parseFormats(value: string): ReportFormat[] {
  const formats = value.split(',').map((f) => f.trim());
  const unknown = formats.filter((f) => !(REPORT_FORMATS as readonly string[]).includes(f));
  if (unknown.length || formats.length === 0) throw new InvalidArgumentError(`unknown format ${unknown.join(', ')}; choose from ${REPORT_FORMATS.join(', ')}`);
  return [...new Set(formats)] as ReportFormat[];
}

function parseShapeArgument(value: string): number[] {
  try {
    return parseShape(value);
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
  process.exitCode = runCli(process.argv.slice(2), {
    cwd: process.cwd(),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stderrIsTTY: process.stderr.isTTY === true,
    stderrColumns: process.stderr.columns,
  });
}
