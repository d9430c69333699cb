// What every report writer takes: the analysed models, the files that could not be read, and who wrote the report.
import type { ModelReport } from '../analysis/types';
import type { RuleSettings } from '../config';
import type { ModelReadError, ReadErrorCode } from '../errors';
import type { AttackReport } from '../attack/types';

export interface ToolInfo {
  name: string;
  version: string;
  /** Project home page (SARIF tool.driver.informationUri). */
  informationUri?: string;
}

/** A model file that could not be read (or analysed); it is reported, never skipped silently. */
export interface ReadFailure {
  file: string;
  error: ModelReadError;
}

export interface ReportInput {
  tool: ToolInfo;
  reports: ModelReport[];
  failures: ReadFailure[];
  /** Rule settings from the config: severity overrides and rules switched off. */
  rules?: RuleSettings;
  /** Files are shown relative to this folder (SARIF SRCROOT). Default: the current working directory. */
  baseDir?: string;
  /** Reconstruction attacks run with the audit (`audit --attack`), one per attacked model. */
  attacks?: AttackReport[];
  /** Folder the report is written to: attack image paths are relative to it (the HTML report inlines them). */
  reportDir?: string;
}

/** A read failure as plain data (JSON report, SARIF notification properties). */
export interface SerializedReadFailure {
  file: string;
  code: ReadErrorCode;
  where: string;
  reason: string;
}

export function serializeFailure(failure: ReadFailure): SerializedReadFailure {
  const { code, where, reason } = failure.error;
  return { file: failure.file, code, where, reason };
}
