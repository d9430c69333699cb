// `leaklint layers <model>`: the layer graph as the reader understood it (no analysis).
import * as path from 'path';
import { readModel } from '../engine/readers';
import { writeLayersJson, writeLayersTable } from '../engine/reports/layers';
import { asReadError, ExitCode, formatReadError, type CliContext } from './context';
import type { InputShapeOption } from '../engine/options';

export interface LayersOptions {
  format: 'table' | 'json';
  inputShape?: InputShapeOption;
}

export function runLayers(model: string, options: LayersOptions, context: CliContext): ExitCode {
  const file = path.resolve(context.cwd, model);
  let graph;
  try {
    graph = readModel(file, { inputShape: options.inputShape });
  } catch (e) {
    context.stderr(formatReadError(asReadError(file, e, 'reading'), context.cwd) + '\n');
    return ExitCode.error;
  }
  context.stdout(options.format === 'json' ? writeLayersJson(graph) : writeLayersTable(graph, context.cwd));
  return ExitCode.clean;
}
