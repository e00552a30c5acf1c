/**
 * Who may do what, in three roles, each including the one below it: a **viewer** reads (pages, the
 * read API); an **operator** also acts on the fleet (run or plan nodes now, deploy, re-check a
 * commit); an **admin** also holds the keys (tokens, users, revocation, the audit log). Accounts
 * (server/storage/sql/users.ts) and admin tokens each carry one role.
 */
export const roles = ["viewer", "operator", "admin"] as const;
export type Role = (typeof roles)[number];

const rank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export const isRole = (v: unknown): v is Role => roles.includes(v as Role);

/** Whether `have` may do what `need` may. */
export const allows = (have: Role, need: Role): boolean => rank[have] >= rank[need];

/**
 * Who acts: a named account, an admin token (by its id), a person signed in by the OIDC provider,
 * a `tend server` command run on the server's box (the Unix user), or a git webhook proved by its
 * secret.
 */
export interface Principal {
  kind: "user" | "token" | "oidc" | "cli" | "webhook";
  /**
   * The account name, the token id (12 hex digits of its hash), the name the provider gave
   * (server/oidc.ts), the Unix user, or the forge.
   */
  id: string;
  role: Role;
}

/** How a principal is written in the audit log and the server log: `user:alice`, `token:0a1b…`. */
export const actorName = (p: Principal): string => `${p.kind}:${p.id}`;
