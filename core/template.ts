/**
 * Liquid templates from a recipe's templates/ folder, rendered with `vars`, `facts` and `node`.
 * Strict: an undefined variable or filter is an error that names the template and its line.
 * Partials (`{% render 'x' %}`) resolve inside the same templates/ folder and nowhere else.
 * Facts and vars are data, never template source: they are output verbatim.
 */
import { posix } from "node:path";
import { type FS, Liquid, type Template } from "liquidjs";
import type { Problem } from "./errors.js";
import { type RepoSource, tooLarge } from "./repo.js";
import type { Json } from "./types.js";

/**
 * Render time of one template (partials included), in ms: real configuration files render in
 * milliseconds; a loop that runs for seconds is a mistake or an attack on the server's compiles.
 */
export const renderLimitMs = 1_000;

export interface TemplateScope {
  vars: Record<string, Json>;
  facts: Json;
  node: string;
}

export class Templates {
  private engines = new Map<string, Liquid>();
  private parsed = new Map<string, Template[] | Problem>();
  /**
   * Templates that ran out of render time, by path: the repository (one commit) is the same for
   * every node compiled from it, so a template that takes a second for one node is not given
   * another second for each of a thousand others (the server's gate compiles them all).
   */
  private slow = new Map<string, Problem>();
  /** Inline templates (parseText) by templates folder and text. */
  private inline = new Map<string, Template[] | Problem>();

  constructor(private readonly repo: RepoSource) {}

  /** Parse (cached) the template at repository path `file`, under the templates/ folder `root`. */
  parse(root: string, file: string): Template[] | Problem {
    const cached = this.parsed.get(file);
    if (cached) return cached;
    let result: Template[] | Problem;
    const big = tooLarge(this.repo, file, `template ${file}`);
    if (big) {
      this.parsed.set(file, { ...big, file });
      return { ...big, file };
    }
    try {
      const text = this.repo.read(file).toString("utf8");
      result = this.engine(root).parse(text, file);
    } catch (err) {
      result = liquidProblem(err, file, "TEND_E_TEMPLATE_SYNTAX");
    }
    this.parsed.set(file, result);
    return result;
  }

  render(root: string, file: string, scope: TemplateScope): string | Problem {
    const tpl = this.parse(root, file);
    if (!Array.isArray(tpl)) return tpl;
    const slow = this.slow.get(file);
    if (slow) return slow;
    try {
      // A copy: {% increment %} and {% decrement %} write their counters into the scope object,
      // which must not carry over into the next render.
      const own = { vars: scope.vars, facts: scope.facts, node: scope.node };
      return this.engine(root).renderSync(tpl, own) as string;
    } catch (err) {
      const problem = liquidProblem(err, file, "TEND_E_TEMPLATE_RENDER");
      if (/render limit exceeded/.test(problem.message)) this.slow.set(file, problem);
      return problem;
    }
  }

  /**
   * A template given inline in a recipe (a health check's URL: `http://127.0.0.1:{{ vars.port }}/`),
   * parsed once per text, with the same engine and limits as the recipe's template files (partials
   * from its templates/ folder `root`). Problems carry no file: the caller places them in the recipe.
   */
  parseText(root: string, text: string): Template[] | Problem {
    const key = `${root}\0${text}`;
    let parsed = this.inline.get(key);
    if (!parsed) {
      try {
        parsed = this.engine(root).parse(text);
      } catch (err) {
        parsed = unplaced(liquidProblem(err, "", "TEND_E_TEMPLATE_SYNTAX"));
      }
      this.inline.set(key, parsed);
    }
    return parsed;
  }

  renderText(root: string, text: string, scope: TemplateScope): string | Problem {
    const tpl = this.parseText(root, text);
    if (!Array.isArray(tpl)) return tpl;
    try {
      const own = { vars: scope.vars, facts: scope.facts, node: scope.node };
      return this.engine(root).renderSync(tpl, own) as string;
    } catch (err) {
      return unplaced(liquidProblem(err, "", "TEND_E_TEMPLATE_RENDER"));
    }
  }

  private engine(root: string): Liquid {
    let engine = this.engines.get(root);
    if (!engine) {
      engine = new Liquid({
        fs: repoFs(this.repo),
        root: [root],
        partials: [root],
        layouts: [root],
        relativeReference: false,
        strictVariables: true,
        strictFilters: true,
        lenientIf: true,
        ownPropertyOnly: true,
        cache: true,
        jsTruthy: false,
        // A template comes from a commit anyone with push access can make; it must not be able to
        // stall the server's compiles: bounded template size, render time and memory.
        parseLimit: 1_000_000,
        renderLimit: renderLimitMs,
        memoryLimit: 64 * 1024 * 1024,
        // Month and day names of the date filter: the same on every machine, so the server and a
        // masterless agent compile the same catalog whatever their locales (and a locale given
        // here spares liquidjs resolving the system's, ~12 ms of ICU start-up per compile).
        locale: "en-US",
      });
      this.engines.set(root, engine);
    }
    return engine;
  }
}

function repoFs(repo: RepoSource): FS {
  const isFile = (p: string) => repo.stat(p)?.type === "file";
  const read = (p: string) => {
    const big = tooLarge(repo, p, `template ${p}`);
    if (big) throw new Error(big.message);
    return repo.read(p).toString("utf8");
  };
  return {
    exists: async (p) => isFile(p),
    existsSync: isFile,
    readFile: async (p) => read(p),
    readFileSync: read,
    resolve: (dir, file, ext) => posix.normalize(posix.join(dir, file + (posix.extname(file) ? "" : ext))),
    contains: async (root, file) => file.startsWith(`${root}/`),
    containsSync: (root, file) => file.startsWith(`${root}/`) && !file.split("/").includes(".."),
    sep: "/",
    dirname: posix.dirname,
  };
}

/** A problem of an inline template: its line and column are in the text, not in a file. */
function unplaced(p: Problem): Problem {
  return { code: p.code, message: p.message };
}

function liquidProblem(
  err: unknown,
  file: string,
  code: "TEND_E_TEMPLATE_SYNTAX" | "TEND_E_TEMPLATE_RENDER",
): Problem {
  const e = err as Error & { errors?: Error[] };
  const first = e.errors?.[0] ?? e;
  const msg = String(first.message ?? first);
  const pos = /line:(\d+), col:(\d+)/.exec(msg);
  let text = msg.split(", line:")[0]!.split(", file:")[0]!;
  if (/^undefined variable/.test(text))
    text = `${text} (define it in the recipe's vars or nodes.yaml, or use a default: {{ x | default: "..." }})`;
  if (/^undefined filter/.test(text)) text = `${text} (not a Liquid filter)`;
  if (/render limit exceeded/.test(text))
    text = `rendering took more than ${renderLimitMs / 1000} s (render limit exceeded): a loop or a partial runs too long`;
  // Thousands of nested tags overflow the parser's stack: say so, not the engine's RangeError.
  if (/Maximum call stack size exceeded/.test(text)) text = "the template nests too deeply";
  return {
    code,
    message: `template: ${text}`,
    file,
    ...(pos ? { line: Number(pos[1]), column: Number(pos[2]) } : {}),
  };
}
