// Where a release goes from the panels: the cursor of the last text editor, or an export file.
import path from 'node:path';
import * as vscode from 'vscode';
import { writeFileAtomic } from '../core/io/atomic';
import { fsUserError, isFsError } from '../core/io/fs-errors';
import { checkOutputPath } from '../core/io/output-path';
import { LEDGER_DIR } from '../core/ledger';
import { UserError } from '../core/errors';
import type { Release } from '../core/release';
import type { InsertFormat } from '../shared/protocol';
import { ledgerRootFor } from './datasetLedger';
import { languageForFormat, positionAfter, releaseInsertText, formatForLanguage } from './insertFormat';

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

/** The text editor Insert at cursor writes into, if any is open. */
function targetEditor(): vscode.TextEditor | undefined {
  return lastTextEditor && !lastTextEditor.document.isClosed ? lastTextEditor : undefined;
}

/**
 * Inserts `text` at the cursor of the last active text editor, else into a new untitled document of `language`, and
 * leaves the cursor just after the inserted text.
 */
export async function insertAtCursor(text: string, language = 'plaintext'): Promise<void> {
  const editor = targetEditor();
  if (!editor) {
    const doc = await vscode.workspace.openTextDocument({ content: text, language });
    const shown = await vscode.window.showTextDocument(doc);
    const end = doc.positionAt(doc.getText().length);
    shown.selection = new vscode.Selection(end, end);
    return;
  }
  const start = editor.selection.active;
  const edit = new vscode.WorkspaceEdit();
  edit.insert(editor.document.uri, start, text);
  if (!(await vscode.workspace.applyEdit(edit)))
    throw new UserError(
      `could not insert into ${editor.document.fileName}`,
      'Is the editor read-only? Use Copy instead.',
    );
  const shown = await vscode.window.showTextDocument(editor.document, { viewColumn: editor.viewColumn });
  const after = positionAfter(start, text);
  const end = new vscode.Position(after.line, after.character);
  shown.selection = new vscode.Selection(end, end);
  shown.revealRange(new vscode.Range(end, end));
}

/**
 * Inserts a release (or its text #`index`) at the cursor in `format`, with a header line in the target file's comment
 * syntax (insertFormat.ts). The runs view and both panels use it.
 */
export async function insertRelease(r: Release, format: InsertFormat = 'auto', index?: number): Promise<void> {
  const editor = targetEditor();
  const languageId = editor?.document.languageId ?? languageForFormat(format === 'auto' ? 'text' : format);
  await insertAtCursor(releaseInsertText(r, { format, languageId, index }), languageId);
}

/**
 * The clipboard text of a release (or its text #`index`) in `format`: 'auto' follows the language of the editor that
 * Insert would write into (plain text when there is none).
 */
export function releaseClipboardText(r: Release, format: InsertFormat = 'auto', index?: number): string {
  const languageId = format === 'auto' ? (targetEditor()?.document.languageId ?? 'plaintext') : 'plaintext';
  const concrete = format === 'auto' ? formatForLanguage(languageId) : format;
  return releaseInsertText(r, { format: concrete, languageId: languageForFormat(concrete), index });
}
