/**
 * The catalogue of coded errors. Every code is documented in docs/errors.md; a test keeps the two
 * in sync. Codes are stable: tools and people search for them.
 */
export const codes = {
  TEND_E_YAML: "A YAML file does not parse.",
  TEND_E_SCHEMA: "A value does not match its JSON Schema (wrong type, unknown key, missing field).",
  TEND_E_NO_NODES: "The repository has no nodes.yaml.",
  TEND_E_RECIPE_MISSING: "A recipe named in nodes.yaml or an include does not exist.",
  TEND_E_INCLUDE_CYCLE: "Recipes include each other in a cycle.",
  TEND_E_RESOURCE_KIND: "A resource does not name exactly one kind (package, file, service, user, group, exec).",
  TEND_E_DUPLICATE: "Two recipes declare the same resource id with different attributes.",
  TEND_E_UNKNOWN_REF: "A require or notify names a resource that no recipe of the node declares.",
  TEND_E_DEPENDENCY_CYCLE: "Resources require each other in a cycle.",
  TEND_E_TEMPLATE_SYNTAX: "A Liquid template does not parse.",
  TEND_E_TEMPLATE_RENDER: "A Liquid template fails to render (an undefined variable or filter).",
  TEND_E_TEMPLATE_MISSING: "A template named by a resource does not exist.",
  TEND_E_SOURCE_MISSING: "A file named by `source:` does not exist.",
  TEND_E_PATH_ESCAPE: "A path leaves the repository (`..`, an absolute path, or a symlink out).",
  TEND_E_EXEC_SHELL: "An exec command uses shell syntax without `shell: true`.",
  TEND_E_NODE_NAME: "A node name is not a valid name.",
  TEND_E_VALIDATION: "A repository has errors; each is listed with its file:line.",
  TEND_E_CONFIG: "A configuration file is invalid.",
  TEND_E_USAGE: "A command was called with wrong arguments.",
  TEND_E_LOCKED: "Another tend run holds the lock.",
  TEND_E_CATALOG: "A catalog is missing, invalid or does not verify.",
  TEND_E_NOT_FOUND: "A file or folder named on the command line does not exist.",
} as const;

export type ErrorCode = keyof typeof codes;
