/**
 * What a resource kind says about itself as data: its recipe attributes (a JSON Schema each), how
 * the compiler normalises them into catalog params, and its automatic edges. A kind module
 * (agent/resources/<kind>.ts) exports one `KindSpec` beside its check/apply code; `npm run gen`
 * reads every kind's spec and writes what core, the schemas and the docs need
 * (core/generated/kinds.ts, schemas/recipe.schema.json, schemas/catalog.schema.json,
 * docs/resources.md), so core stays pure and knows no kind by name.
 */
import type { Json } from "./types.js";

/** A JSON Schema fragment, as plain data. */
export type Schema = Readonly<Record<string, unknown>>;

/**
 * An automatic edge: the resources of kind `after` that this one comes after, or of kind `before`
 * that come after this one. Which ones:
 * - `param`: those named by this resource's param (a string, or a list of strings);
 * - `ancestor`: the nearest managed ancestor directory of the path in `name` (`"name"`) or a param;
 * - `names`: those with one of these names, where `{name}` is this resource's name, `{unit}` the
 *   name with ".service" added when it has no unit suffix (for a drop-in name `UNIT.d/FILE.conf`,
 *   the unit it extends), `{stem}` that unit without ".service";
 * - none of those: every resource of that kind.
 */
export type EdgeSpec = ({ after: string; before?: never } | { before: string; after?: never }) & {
  param?: string;
  ancestor?: string;
  names?: readonly string[];
};

/** A rule between attributes, checked when the resource is normalised. */
export type RuleSpec =
  /** Only one of these keys may be given. */
  | { one_of: readonly string[] }
  /** `key` applies only when attribute `when` has one of `is` (after defaults): an error otherwise. */
  | { key: string; only_when: string; is: readonly string[] }
  /** When attribute `when` is `is`, `key` must be given. */
  | { key: string; required_when: string; is: string };

export interface KindSpec {
  /** The kind key in a recipe (`package: nginx`) and the first half of every id (`package:nginx`). */
  type: string;
  /** One sentence: what a resource of this kind is. */
  description: string;
  /** Behaviour worth knowing beyond the attribute table (markdown), for docs/resources.md. */
  notes?: string;
  /**
   * Set when the kind key is also an attribute of other kinds (a file's `group`, an exec's `user`):
   * it then names the kind only when no other kind key is present; the lowest rank wins.
   */
  attribute_key_rank?: number;
  /** The schema of the name (the kind key's value). */
  name: Schema;
  /** The name is an absolute path: normalised ("/etc//x/" → "/etc/x"), and ".." refused. */
  name_is_path?: boolean;
  /** The recipe attributes besides the kind key, `require` and `notify`, each with title and description. */
  attributes: { readonly [key: string]: Schema };
  /**
   * Params every catalog carries: filled from the attribute's `default` when the recipe leaves it
   * out (so the recipe may, and the agent can rely on it).
   */
  required?: readonly string[];
  /** Attributes a recipe must always give (JSON Schema `required`: editors and validate say so). */
  mandatory?: readonly string[];
  /** A param's default that depends on another attribute being given, e.g. a file with a target is a link. */
  infer?: readonly { param: string; when_given: string; value: Json }[];
  /**
   * Wanted bytes from the recipe: an inline `content` attribute, a recipe file (`source`) or a
   * Liquid template (`template`), each naming the attribute that carries it; the compiler resolves
   * whichever is given to a sha256 in `param` and ships the bytes with the catalog.
   */
  content?: {
    param: string;
    content?: string;
    source?: string;
    template?: string;
    /**
     * The attribute holding OpenPGP fingerprint pins that the wanted bytes (a public key file) must
     * match: `tend validate` checks an inline or recipe-file key against them (core/openpgp.ts).
     */
    openpgp_fingerprint?: string;
  };
  /**
   * Attributes that are commands: a string split into words like a shell would (without running
   * one) or an argv list. `argv`: the param holding the main command, from attribute `from` or,
   * without it, the resource's name. `shell`: the boolean attribute that runs them with /bin/sh -c.
   */
  commands?: {
    argv?: { param: string; from: string };
    guards?: readonly string[];
    shell?: string;
  };
  rules?: readonly RuleSpec[];
  edges?: readonly EdgeSpec[];
  /**
   * String attributes that may use Liquid (`repository: "{{ vars.app_repo }}"`), rendered for each
   * node with vars, facts and node as templates are: a URL or a revision that differs per node or
   * environment. The rendered value must still match the attribute's schema pattern.
   */
  liquid?: readonly string[];
}

/**
 * What core needs of a kind, derived from its spec by `npm run gen` (core/generated/kinds.ts):
 * no schemas or prose, only what normalisation and ordering read.
 */
export interface KindRules {
  attribute_key_rank?: number;
  name_is_path?: boolean;
  /** Authored attribute names that are copied into params as given. */
  copy: readonly string[];
  /** Attributes whose value is a file mode: normalised to four digits ("644" → "0644"). */
  modes: readonly string[];
  /** Params filled when missing. */
  defaults: { readonly [param: string]: Json };
  infer?: KindSpec["infer"];
  content?: KindSpec["content"];
  commands?: KindSpec["commands"];
  rules?: readonly RuleSpec[];
  edges?: readonly EdgeSpec[];
  /** Attributes that may use Liquid, each with the pattern its rendered value must match (or null). */
  liquid?: { readonly [attribute: string]: string | null };
}
