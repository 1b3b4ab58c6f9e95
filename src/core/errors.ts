/**
 * Errors a user can act on. Every message names what went wrong, where (file and line when there is one), and
 * what to do. Messages never contain dataset rows or API keys.
 */
export class UserError extends Error {
  constructor(
    message: string,
    /** What the user should do about it. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'UserError';
  }

  /** The message followed by the hint, for printing. */
  describe(): string {
    return this.hint ? `${this.message}\n  → ${this.hint}` : this.message;
  }
}

/** A problem with a data file. `line` is 1-based; it is absent for whole-file problems (size, empty file). */
export class DataError extends UserError {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly problem: string,
    hint?: string,
    readonly column?: string,
  ) {
    super(`${line === undefined ? file : `${file}:${line}`}: ${problem}`, hint);
    this.name = 'DataError';
  }
}

/** A command-line or settings mistake (exit code 2 in the CLI). */
export class UsageError extends UserError {
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = 'UsageError';
  }
}
