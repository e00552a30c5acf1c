/**
 * The fleet search language (docs/dashboard.md, "Searching the fleet"), parsed into a small tree
 * that sql.ts compiles to parameterised SQL and match.ts evaluates in JS. Pure: no storage.
 *
 *   os.version_id = 12 and package:nginx failed
 *   file:/etc/nginx/* drifted or (commit != live and not stale)
 *
 * `not` binds tighter than `and`, which binds tighter than `or`; parentheses group. A mistake is a
 * `SearchError` that names the column and says how to fix it.
 */
import { TendError } from "../../core/errors.js";

export type Op = "=" | "!=" | "<" | ">" | "<=" | ">=" | "~" | "!~";
/** A literal: `quoted` ones are always strings; bare ones that read as numbers compare as numbers. */
export interface Literal {
  text: string;
  quoted: boolean;
}
export const resourceStates = ["changed", "failed", "drifted", "skipped", "unknown"] as const;
export type ResourceState = (typeof resourceStates)[number];
export const flags = ["stale", "failing", "drifted"] as const;
export type Flag = (typeof flags)[number];
/** Node fields a term can compare; any other dotted name is a fact path. */
export const fields = ["name", "commit", "status"] as const;
export type Field = (typeof fields)[number];

export type Expr =
  | { t: "and" | "or"; a: Expr; b: Expr }
  | { t: "not"; a: Expr }
  | { t: "flag"; flag: Flag }
  | { t: "field"; field: Field; op: Op; value: Literal }
  | { t: "fact"; path: string; op: Op; value: Literal }
  /** `kind:title STATE`; `title` may hold glob characters (`glob`). */
  | { t: "resource"; kind: string; title: string; glob: boolean; state: ResourceState };

/** At most this many characters and terms: a search is typed by a person. */
export const maxLength = 2000;
const maxTerms = 64;
export const statuses = ["changed", "unchanged", "failed", "none"];

export class SearchError extends TendError {
  constructor(
    readonly query: string,
    /** 0-based offset into the query. */
    readonly position: number,
    readonly what: string,
    readonly hint: string,
  ) {
    const caret = `  ${query.replace(/[\r\n\t]/g, " ")}\n  ${" ".repeat(position)}^`;
    super("TEND_E_SEARCH", `search: ${what} at column ${position + 1}: ${hint}\n${caret}`);
    this.name = "SearchError";
  }
}

type TokKind = "word" | "string" | "op" | "(" | ")" | "end";
interface Tok {
  kind: TokKind;
  text: string;
  pos: number;
}

const opChars = /[=!<>~]/;
const ops: Op[] = ["!=", "<=", ">=", "!~", "=", "<", ">", "~"];

function tokenize(q: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "(" || c === ")") {
      out.push({ kind: c, text: c, pos: i++ });
    } else if (c === '"' || c === "'") {
      const start = i++;
      let text = "";
      while (i < q.length && q[i] !== c) {
        if (q[i] === "\\" && i + 1 < q.length) i++;
        text += q[i++];
      }
      if (i >= q.length)
        throw new SearchError(q, start, "unclosed quote", `close it with ${c} (a \\ escapes a quote inside)`);
      i++;
      out.push({ kind: "string", text, pos: start });
    } else if (opChars.test(c)) {
      const op = ops.find((o) => q.startsWith(o, i));
      if (!op) throw new SearchError(q, i, `unknown operator "${c}"`, "use = != < > <= >= ~ or !~");
      out.push({ kind: "op", text: op, pos: i });
      i += op.length;
    } else {
      const start = i;
      while (i < q.length && !/[\s()"'=!<>~]/.test(q[i] as string)) i++;
      out.push({ kind: "word", text: q.slice(start, i), pos: start });
    }
  }
  out.push({ kind: "end", text: "", pos: q.length });
  return out;
}

const factPath = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;
const resourceId = /^([a-z][a-z0-9_]*):(.+)$/s;
const keywords = new Set(["and", "or", "not"]);
const isGlob = (s: string) => /[*?]/.test(s);

export function parseSearch(query: string): Expr {
  if (query.length > maxLength)
    throw new SearchError(query.slice(0, 40), 0, "search too long", `keep it under ${maxLength} characters`);
  const toks = tokenize(query);
  let at = 0;
  let terms = 0;
  const peek = () => toks[at] as Tok;
  const next = () => toks[at++] as Tok;
  const fail = (tok: Tok, what: string, hint: string): never => {
    throw new SearchError(query, tok.pos, what, hint);
  };
  const isWord = (tok: Tok, w: string) => tok.kind === "word" && tok.text.toLowerCase() === w;
  const described = (tok: Tok) => (tok.kind === "end" ? "the end of the search" : `"${tok.text}"`);

  function orExpr(): Expr {
    let a = andExpr();
    while (isWord(peek(), "or")) {
      next();
      a = { t: "or", a, b: andExpr() };
    }
    return a;
  }
  function andExpr(): Expr {
    let a = unary();
    for (;;) {
      const tok = peek();
      if (isWord(tok, "and")) {
        next();
        a = { t: "and", a, b: unary() };
      } else if (tok.kind === "word" || tok.kind === "string" || tok.kind === "(") {
        if (isWord(tok, "or")) return a;
        fail(tok, `${described(tok)} follows a complete term`, 'join terms with "and" or "or"');
      } else return a;
    }
  }
  function unary(): Expr {
    if (isWord(peek(), "not")) {
      next();
      return { t: "not", a: unary() };
    }
    return primary();
  }
  function primary(): Expr {
    const tok = next();
    if (tok.kind === "(") {
      const e = orExpr();
      const close = next();
      if (close.kind !== ")")
        fail(close, `expected ")" but found ${described(close)}`, "close the parenthesis");
      return e;
    }
    if (++terms > maxTerms) fail(tok, "too many terms", `a search holds at most ${maxTerms}`);
    if (tok.kind === "end") fail(tok, "the search ends where a term was expected", termHint);
    if (tok.kind !== "word" && tok.kind !== "string")
      fail(tok, `expected a term but found ${described(tok)}`, termHint);
    if (tok.kind === "word" && keywords.has(tok.text.toLowerCase()))
      fail(tok, `"${tok.text}" where a term was expected`, termHint);
    const after = peek();
    if (after.kind === "op") return comparison(tok);
    const rid = resourceId.exec(tok.text);
    if (rid) return resource(tok, rid[1] as string, rid[2] as string);
    const flag = flags.find((f) => tok.kind === "word" && f === tok.text.toLowerCase());
    if (flag) return { t: "flag", flag };
    if (tok.kind === "word" && factPath.test(tok.text))
      return fail(
        after,
        `expected an operator after "${tok.text}"`,
        `compare it: ${tok.text} = VALUE (or != < > <= >= ~ !~)`,
      );
    return fail(tok, `"${tok.text}" is not a term`, termHint);
  }
  function resource(tok: Tok, kind: string, title: string): Expr {
    const st = next();
    const state = resourceStates.find((s) => st.kind === "word" && s === st.text.toLowerCase());
    if (!state) {
      const unchanged = isWord(st, "unchanged")
        ? 'a report keeps rows only for resources that changed, failed or drifted, so "unchanged" cannot be searched; use one of '
        : "follow it with one of ";
      fail(
        st,
        `expected a state after "${tok.text}" but found ${described(st)}`,
        `${unchanged}${resourceStates.join(", ")}`,
      );
    }
    return { t: "resource", kind, title, glob: isGlob(title), state: state as ResourceState };
  }
  function comparison(name: Tok): Expr {
    const opTok = next();
    const op = opTok.text as Op;
    const v = next();
    if (v.kind !== "word" && v.kind !== "string")
      fail(
        v,
        `expected a value after "${op}" but found ${described(v)}`,
        "give a value; quote it if it holds spaces or ( ) = ! < > ~",
      );
    const value: Literal = { text: v.text, quoted: v.kind === "string" };
    const field = fields.find((f) => name.kind === "word" && f === name.text.toLowerCase());
    if (field) return fieldTerm(field, op, value, opTok, v);
    if (name.kind !== "word" || !factPath.test(name.text))
      fail(
        name,
        `"${name.text}" is not a fact path`,
        "write a fact as a dotted path of letters, digits, _ and - (os.version_id)",
      );
    if ((op === "~" || op === "!~") && !value.text)
      fail(v, "empty pattern", "give a glob such as 12* or *.example.com");
    return { t: "fact", path: name.text, op, value };
  }
  function fieldTerm(field: Field, op: Op, value: Literal, opTok: Tok, v: Tok): Expr {
    const eq = op === "=" || op === "!=";
    if (field === "name") {
      if (op !== "=" && op !== "!=" && op !== "~" && op !== "!~")
        fail(opTok, `name cannot be compared with ${op}`, "use = != ~ (glob) or !~");
      return { t: "field", field, op, value };
    }
    if (!eq) fail(opTok, `${field} cannot be compared with ${op}`, `use ${field} = … or ${field} != …`);
    if (
      field === "commit" &&
      !(value.text === "live" && !value.quoted) &&
      !/^[0-9a-f]{4,40}$/.test(value.text)
    )
      fail(
        v,
        `"${value.text}" is not a commit`,
        "use live (the newest valid commit) or a sha (4-40 hex digits)",
      );
    if (field === "status" && !statuses.includes(value.text))
      fail(v, `"${value.text}" is not a run status`, `use one of ${statuses.join(", ")}`);
    return { t: "field", field, op, value };
  }

  const e = orExpr();
  const end = peek();
  if (end.kind === ")") fail(end, 'unmatched ")"', "remove it or open a parenthesis before");
  if (end.kind !== "end")
    fail(end, `${described(end)} follows a complete search`, 'join terms with "and" or "or"');
  return e;
}

const termHint =
  "a term is a fact comparison (os.version_id = 12), a resource and a state (package:nginx failed), commit = live, name ~ web-*, status = failed, stale, failing or drifted";
