// Where a release goes from the panels: the cursor of the last text editor, or an export file.
import path from 'node:path';
import * as vscode from 'vscode';
import { writeFileAtomic } from '../core/io/atomic';
import { fsUserError, isFsError } from '../core/io/fs-errors';
import { checkOutputPath } from '../core/io/output-path';
import { LEDGER_DIR } from '../core/ledger';
import { UserError } from '../core/errors';
import { ledgerRootFor } from './datasetLedger';

/**
 * Writes an export: never over the dataset or into .private-fewshot/, and atomically (temp file + rename) on disk,
 * so a failure never leaves a truncated file. Throws a UserError naming the path and what to do.
 */
export async function writeExport(target: vscode.Uri, body: string, dataset: vscode.Uri): Promise<void> {
  if (target.scheme !== 'file') return vscode.workspace.fs.writeFile(target, new TextEncoder().encode(body));
  const ledgerDir = path.join(ledgerRootFor(dataset), LEDGER_DIR);
  const file = checkOutputPath(target.fsPath, path.dirname(target.fsPath), { inputs: [dataset.fsPath], ledgerDir });
  try {
    writeFileAtomic(file, body);
  } catch (e) {
    throw isFsError(e) ? fsUserError(e, { context: 'could not export', path: file }) : e;
  }
}

/** The last text editor the user had focus in (a focused webview panel has no active text editor). */
let lastTextEditor: vscode.TextEditor | undefined;
export function trackTextEditors(): vscode.Disposable {
  lastTextEditor = vscode.window.activeTextEditor;
  return vscode.window.onDidChangeActiveTextEditor((e) => {
    if (e) lastTextEditor = e;
  });
}

/** Inserts `text` at the cursor of the last active text editor, else into a new untitled document (both panels). */
export async function insertAtCursor(text: string): Promise<void> {
  const editor = lastTextEditor && !lastTextEditor.document.isClosed ? lastTextEditor : undefined;
  if (!editor) {
    const doc = await vscode.workspace.openTextDocument({ content: text, language: 'plaintext' });
    await vscode.window.showTextDocument(doc);
    return;
  }
  const edit = new vscode.WorkspaceEdit();
  edit.insert(editor.document.uri, editor.selection.active, text);
  if (!(await vscode.workspace.applyEdit(edit)))
    throw new UserError(
      `could not insert into ${editor.document.fileName}`,
      'Is the editor read-only? Use Copy instead.',
    );
  await vscode.window.showTextDocument(editor.document, { viewColumn: editor.viewColumn });
}
