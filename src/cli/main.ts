import { UserError, UsageError } from '../core/errors';
import { TOOL_VERSION } from '../core/version';
import { fsUserError, isFsError } from '../core/io/fs-errors';
import { printable } from '../core/text-safety';
import { parse, type Command, type Io } from './args';
import { inspect } from './commands/inspect';
import { budget } from './commands/budget';
import { doctor } from './commands/doctor';
import { demos } from './commands/demos';
import { synth } from './commands/synth';
import { split } from './commands/split';
import { evaluate } from './commands/evaluate';
import { privacyQueryCommands } from './commands/privacy-queries';

const commands: Command[] = [inspect, split, demos, synth, evaluate, doctor, budget, ...privacyQueryCommands];

function help(): string {
  return [
    `private-fewshot ${TOOL_VERSION} — differentially private few-shot demonstrations from a private labelled dataset`,
    '',
    'Usage: private-fewshot <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`),
    '',
    "Run `private-fewshot <command> --help` for a command's options.",
    'Exit codes: 0 success, 1 runtime or data error, 2 usage error.',
  ].join('\n');
}

/** Runs the CLI and returns the exit code. Never calls process.exit, so tests can call it in-process. */
export async function main(argv: string[], rawIo: Io): Promise<number> {
  // Diagnostics can quote labels and file content: control characters (ANSI escapes) never reach the terminal raw.
  const io: Io = { ...rawIo, err: (t) => rawIo.err(printable(t)) };
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      io.out(help());
      return name === undefined ? 2 : 0;
    }
    if (name === '--version' || name === '-v') {
      io.out(TOOL_VERSION);
      return 0;
    }
    const cmd = commands.find((c) => c.name === name);
    if (!cmd)
      throw new UsageError(
        `unknown command "${name}"`,
        `Commands: ${commands.map((c) => c.name).join(', ')}. Run private-fewshot --help.`,
      );
    const { values, positionals } = parse(cmd, rest);
    if (values.help) {
      io.out(`${cmd.summary}\n\nUsage: ${cmd.usage}`);
      return 0;
    }
    return await cmd.run(values, positionals, io);
  } catch (e) {
    if (e instanceof UserError) {
      io.err(`error: ${e.describe()}`);
      return e instanceof UsageError ? 2 : 1;
    }
    // A file-system failure (permissions, a folder where a file should be, a full disk) is the user's to fix: one line
    // naming the path, no stack.
    if (isFsError(e)) {
      io.err(`error: ${fsUserError(e).describe()}`);
      return 1;
    }
    io.err(`internal error: ${(e as Error).stack ?? String(e)}`);
    return 1;
  }
}

if (require.main === module) {
  const io: Io = {
    // Released text goes out byte for byte when piped; on a terminal its control characters are escaped.
    out: (t) => {
      const s = process.stdout.isTTY ? printable(t) : t;
      process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
    },
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
    env: process.env,
    cwd: process.cwd(),
  };
  main(process.argv.slice(2), io).then((code) => {
    process.exitCode = code;
  });
}
