// `npm run bench`: runs every bench/<name>/main.ts in turn (or only those named: npm run bench -- accountant).
// Arguments starting with `--` are left for the benchmarks (process.argv); with --json no header line is printed, so a
// benchmark that supports it prints one JSON object (npm run bench -- voting --json).
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const here = path.dirname(new URL(import.meta.url).pathname);
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const json = process.argv.includes('--json');
const names = readdirSync(here, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(path.join(here, d.name, 'main.ts')))
  .map((d) => d.name)
  .filter((n) => only.length === 0 || only.includes(n))
  .sort();
if (names.length === 0) {
  console.log('no benchmarks found');
}
for (const name of names) {
  if (!json) console.log(`\n=== bench/${name}`);
  const mod = (await import(pathToFileURL(path.join(here, name, 'main.ts')).href)) as { main?: () => Promise<void> };
  if (mod.main) await mod.main();
}
