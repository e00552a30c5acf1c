/**
 * Coded errors a person reads. A `Problem` is one located mistake in user input (recipe, config,
 * request body); a `TendError` carries one or more of them, or a plain message, with a code from
 * the catalogue in core/codes.ts. The CLI prints the message; `--debug` adds the stack.
 */
import type { ErrorCode } from "./codes.js";

export interface Problem {
  code: ErrorCode;
  /** A sentence: what is wrong and how to fix it. */
  message: string;
  /** Repository-relative file, when the problem is in a file. */
  file?: string;
  line?: number;
  column?: number;
  /** The field, as a dotted path (`resources[3].mode`). */
  field?: string;
}

export class TendError extends Error {
  readonly code: ErrorCode;
  readonly problems: Problem[];
  /** An exit code for the CLI (1 unless said otherwise). */
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, problems: Problem[] = [], exitCode = 1) {
    super(message);
    this.name = "TendError";
    this.code = code;
    this.problems = problems;
    this.exitCode = exitCode;
  }
}

/** `file:line:column: field: message` — the form editors and terminals turn into links. */
export function formatProblem(p: Problem): string {
  let where = "";
  if (p.file) {
    where = p.file;
    if (p.line !== undefined) where += `:${p.line}`;
    if (p.line !== undefined && p.column !== undefined) where += `:${p.column}`;
    where += ": ";
  }
  const field = p.field ? `${p.field}: ` : "";
  return `${where}${field}${p.message} [${p.code}]`;
}

export function isTendError(err: unknown): err is TendError {
  return err instanceof TendError;
}
