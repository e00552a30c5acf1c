/**
 * Reading a repository: nodes.yaml and RECIPE/recipe.yaml, parsed with positions and checked
 * against their schemas. Results are cached per RepoSource by the Compiler that owns this loader.
 */
import type { Rule } from "./classify.js";
import type { Problem } from "./errors.js";
import { KIND_TYPES } from "./generated/kinds.js";
import { type RepoSource, tooLarge } from "./repo.js";
import { schemaProblems } from "./schema.js";
import type { Json } from "./types.js";
import { type ParsedYaml, parseYaml } from "./yaml.js";

export interface RecipeFile {
  description?: string;
  include?: string[];
  vars?: Record<string, Json>;
  resources?: Record<string, Json>[];
  /** false: the agent's watch mode leaves this recipe's resources to scheduled runs. */
  watch?: boolean;
  checks?: Record<string, Json>[];
}

export interface Loaded<T> {
  file: string;
  data?: T;
  parsed?: ParsedYaml;
  problems: Problem[];
}

export const NODES_FILE = "nodes.yaml";

const KIND_KEYS: ReadonlySet<string> = new Set(KIND_TYPES);

/** "unknown key service" in a package resource really means: two kinds in one resource. */
function secondKind(p: Problem): Problem {
  const m = /^unknown key "([a-z_]+)"/.exec(p.message);
  const kind = /^resources\[\d+\]/.test(p.field ?? "") && m && KIND_KEYS.has(m[1]!) ? m[1] : undefined;
  if (!kind) return p;
  return {
    ...p,
    code: "TEND_E_RESOURCE_KIND",
    message: `"${kind}" is a second kind key in this resource; a resource has exactly one kind: split it into two resources`,
  };
}

export class Loader {
  private recipes = new Map<string, Loaded<RecipeFile> | null>();
  private nodes?: Loaded<Rule[]>;

  constructor(readonly repo: RepoSource) {}

  loadNodes(): Loaded<Rule[]> {
    if (this.nodes) return this.nodes;
    const entry = this.repo.stat(NODES_FILE);
    if (entry?.type !== "file") {
      this.nodes = {
        file: NODES_FILE,
        problems: [
          {
            code: "TEND_E_NO_NODES",
            message: `${this.repo.label} has no nodes.yaml; add one with rules such as:  - name: "*"  recipes: [base]`,
            file: NODES_FILE,
          },
        ],
      };
      return this.nodes;
    }
    this.nodes = this.parse<Rule[]>(NODES_FILE, "nodes", []);
    return this.nodes;
  }

  recipeExists(name: string): boolean {
    return this.repo.stat(`${name}/recipe.yaml`)?.type === "file";
  }

  /** The recipe, or null when its folder has no recipe.yaml. */
  loadRecipe(name: string): Loaded<RecipeFile> | null {
    if (this.recipes.has(name)) return this.recipes.get(name)!;
    const file = `${name}/recipe.yaml`;
    const loaded = this.recipeExists(name) ? this.parse<RecipeFile>(file, "recipe", {}) : null;
    this.recipes.set(name, loaded);
    return loaded;
  }

  /** Every folder at the top of the repository that holds a recipe.yaml. */
  recipeNames(): string[] {
    return this.repo.list("").filter((n) => this.repo.stat(n)?.type === "dir" && this.recipeExists(n));
  }

  private parse<T>(file: string, schema: string, empty: T): Loaded<T> {
    let text: string;
    const big = tooLarge(this.repo, file, file);
    if (big) return { file, problems: [{ ...big, file }] };
    try {
      text = this.repo.read(file).toString("utf8");
    } catch (err) {
      return {
        file,
        problems: [{ code: "TEND_E_YAML", message: `cannot read: ${(err as Error).message}`, file }],
      };
    }
    const { parsed, problems } = parseYaml(text, file);
    if (!parsed) return { file, problems };
    // An empty file is an empty recipe (or no rules), not an error.
    const value = parsed.value ?? empty;
    const schemaIssues = schemaProblems(schema, value, { file, locate: parsed.locate }).map(secondKind);
    if (schemaIssues.length) return { file, parsed, problems: schemaIssues };
    return { file, data: value as T, parsed, problems: [] };
  }
}
