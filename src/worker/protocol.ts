// Messages between the extension host and the background worker (a forked child process).
import type { ModelReport } from '../engine/analysis/types';
import type { AnalysisOptions } from '../engine/analysis/analyzeModel';
import type { ReadOptions } from '../engine/options';

export type WorkerRequest =
  | { id: number; type: 'analyze'; file: string; read: ReadOptions; analysis: Omit<AnalysisOptions, 'onProgress'> }
  /** The layer table of a model, as text (the same as `leaklint layers`). */
  | { id: number; type: 'layers'; file: string; read: ReadOptions; baseDir: string };

export type WorkerMessage =
  | { id: number; type: 'progress'; done: number; total: number; label: string }
  | { id: number; type: 'result'; report: ModelReport }
  | { id: number; type: 'layers'; text: string }
  /** `code` is a ModelReadError code when the model could not be read, else 'internal'. */
  | { id: number; type: 'error'; code: string; message: string };
