// Messages between the extension host and the background worker (a forked child process).
import type { ModelReport } from '../engine/analysis/types';
import type { AnalysisOptions } from '../engine/analysis/analyzeModel';
import type { ReadOptions } from '../engine/options';

export type WorkerRequest =
  | { id: number; type: 'analyze'; file: string; read: ReadOptions; analysis: Omit<AnalysisOptions, 'onProgress'> }
  | { id: number; type: 'cancel'; target: number };

export type WorkerMessage =
  | { id: number; type: 'progress'; done: number; total: number; label: string }
  | { id: number; type: 'result'; report: ModelReport }
  | { id: number; type: 'error'; code: string; message: string };
