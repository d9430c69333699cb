// Who writes the reports: one name and version, from package.json, for the CLI, the extension and every report.
import packageJson from '../../package.json';

export interface ToolInfo {
  name: string;
  version: string;
  /** Project home page (SARIF tool.driver.informationUri). */
  informationUri?: string;
}

export const TOOL: ToolInfo = {
  name: 'leaklint',
  version: packageJson.version,
  informationUri: 'https://github.com/leaklint/leaklint',
};
