import * as vscode from 'vscode';
import { loadDataset, type Dataset } from '../core/data';

/** Typed access to the extension's settings (pattern from rust-analyzer's editors/code/src/config.ts). */
export class Config {
  static readonly section = 'privateFewShot';

  private get cfg(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration(Config.section);
  }

  /** Dataset files larger than this are refused (MB). */
  get maxDatasetBytes(): number {
    const mb = this.cfg.get<number>('data.maxSizeMB', 200);
    return Math.max(1, mb) * 1024 * 1024;
  }

  /** Skip rows with an empty text or label (and report them) instead of failing. */
  get skipInvalidRows(): boolean {
    return this.cfg.get<boolean>('data.skipInvalidRows', false);
  }

  /** Drop rows whose text repeats an earlier row. */
  get dedupe(): boolean {
    return this.cfg.get<boolean>('data.dedupe', false);
  }

  /** The text, label and privacy-unit columns set for `file` (resource-scoped settings; empty means detect). */
  columns(file: vscode.Uri): { textColumn?: string; labelColumn?: string; unitColumn?: string } {
    const cfg = vscode.workspace.getConfiguration(Config.section, file);
    const out: { textColumn?: string; labelColumn?: string; unitColumn?: string } = {};
    for (const k of ['textColumn', 'labelColumn', 'unitColumn'] as const) {
      const v = cfg.get<string>(`data.${k}`, '').trim();
      if (v) out[k] = v;
    }
    return out;
  }

  /**
   * Loads a dataset as the settings say (columns, size limit, invalid rows, de-duplication), paths relative to
   * `root`.
   */
  loadDataset(file: vscode.Uri, root: string): Promise<Dataset> {
    return loadDataset(file.fsPath, {
      root,
      ...this.columns(file),
      maxBytes: this.maxDatasetBytes,
      onInvalid: this.skipInvalidRows ? 'skip' : 'fail',
      dedupe: this.dedupe,
    });
  }
}
