// The engine's front door: everything the adapters (the CLI, the background worker, the VS Code extension) may use.
// One use case per job (audit, layers, attack, discovery), the report types and the report writers. The engine
// never touches a file system (adapters hand it a FileAccess) and never loads vscode or native code.

// Use cases
export { auditFile, readOptionsOf, type AuditOutcome, type Trust } from './jobs/audit';
export { layersOfFile, type LayersOutcome } from './jobs/layers';
export { attackFile, attackOptionsOf, type AttackContext, type AttackOutcome } from './jobs/attack';
export { discoverModelFiles, type Discovery } from './jobs/discover';
export {
  identifiabilityOfFile,
  identifiabilityOptionsOf,
  type IdentifiabilityContext,
  type IdentifiabilityJobOptions,
  type IdentifiabilityOutcome,
  type IdentifiabilityReport,
} from './jobs/identifiability';
export { failureError, toModelFailure, type JobContext, type ModelFailure, type ProgressDetail, type ProgressListener } from './jobs/types';
export { isModelFile, looksLikeTfjsModel } from './readers';

// File access
export { decodeUtf8, FileAccessError, isFileAccessError } from './files/fileAccess';
export type { DirectoryEntry, FileAccess, FileAccessErrorCode, FileKind, FileStat } from './files/fileAccess';
export { containedPath, type Containment } from './files/containment';

// Configuration
export {
  ATTACK_DEFAULTS,
  ATTACK_KEYS,
  CONFIG_FILE_NAME,
  ConfigError,
  createIgnoreMatcher,
  defaultConfig,
  effectiveSeverity,
  FAIL_ON_VALUES,
  findConfigFile,
  loadConfigFile,
  parseConfig,
  readConfigValue,
} from './config';
export type { AttackSettings, FailOn, LeakLintConfig, RuleSetting, RuleSettings, Thresholds } from './config';
export { addInputShape, type InputShapeOption, type InputShapes, type ReadOptions } from './options';
export { ModelReadError, type ReadErrorCode } from './errors';
export { TOOL } from './tool';

// What the analysis and the attack report
export type { Fix, LayerFinding, LayerMetrics, LayerStatus, ModelMetrics, ModelReport, RankMethod, Severity } from './analysis/types';
export { getRule, isAtLeast, RULES, ruleHelpUri, SEVERITIES, type Rule, type RuleId } from './analysis/rules';
export type {
  AttackImageResult,
  AttackLayerResult,
  AttackMethod,
  AttackReport,
  GradientMatchingRun,
  ImageQuality,
  InputNormalization,
  MatchingProgress,
  ReconstructionMethod,
} from './attack/types';
export { ATTACK_METHODS } from './attack/types';
export type { AttackJobOptions, ForwardCheck, OutputFile } from './attack/attack';
export type { GradientEvaluation, GradientEvaluator, GradientRuntime } from './attack/invertingGradients';
export type { ModelFormat, Shape, SourceLocation, TextPosition, TextRange } from './ir';

// Report writers (strings; writing files is the adapters' job)
export {
  formatOptionsOf,
  formatReport,
  REPORT_EXTENSIONS,
  REPORT_FORMATS,
  type FormatOptions,
  type ReportFormat,
  type ReportInput,
  type SarifOptions,
  type ToolInfo,
} from './reports';
export { SARIF_DEFAULT_MIN_LEVEL } from './reports/sarif';
export { BaselineError, parseBaseline, type Baseline } from './reports/baseline';
export { reportInputOf } from './reports/input';
export { collectIssues, failsOn, type Issue } from './reports/issues';
export { buildLayerListing, writeLayersJson, writeLayersTable, type LayerListing } from './reports/layers';
export { attackJson, writeAttackSummary, leaks } from './reports/attack';
export {
  describeFixEffect,
  displayPath,
  escapeHtml,
  escapeMarkdown,
  formatCoverage,
  formatIndices,
  formatNumber,
  formatRanks,
  formatRisk,
  formatShape,
  formatVerdict,
  formatJacobianRank,
  formatLayerRanks,
  jacobianRankOf,
  jsonText,
  layerLabel,
  nothingToLeak,
  plainText,
} from './reports/format';
export { evidenceSentence } from './verdict/phrases';
export { attackEvidence, identifiabilityEvidence, withAttacks, withEvidence } from './verdict/decide';
export { RECOGNISABLE, type ClosedFormStop, type Evidence, type ModelVerdict } from './verdict/types';

// Graphs the background runtime runs
export { buildForwardProbe, type ForwardProbe } from './attack/forwardProbe';
export {
  buildInvertingGradientsGraph,
  buildJacobianTransposeGraph,
  type GradientGraph,
  type InvertingGradientsOptions,
  type JacobianTransposeGraph,
  type JacobianTransposeOptions,
} from './gradientGraph';

// Gradient-matching identifiability (the rank of the gradient map's Jacobian; the runtime runs its Jᵀu graphs)
export {
  analyseIdentifiability,
  IDENTIFIABILITY_DEFAULTS,
  type IdentifiabilityAnalysis,
  type JacobianRankMethod,
  type JacobianProductRunner,
  type JacobianProductSession,
  type LayerRankOfJ,
  type RankOfJ,
} from './identifiability/jacobianRank';
