/**
 * Dashboard accounts: add, change (role, password), remove — shared by `tend server user`
 * (admin/users.ts) and the API (routes/console-api.ts), each recorded in the audit log (never the
 * password). Names are lower-case, so `Alice` and `alice` cannot be two accounts.
 */
import { type Actor, audit } from "../audit.js";
import { HttpError } from "../http.js";
import { hashPassword, passwordProblem } from "../passwords.js";
import type { Role } from "../roles.js";
import type { Storage } from "../storage/types.js";

export const userNamePattern = "^[a-z][a-z0-9._-]{0,62}$";

export function userNameProblem(name: string): string | null {
  return new RegExp(userNamePattern).test(name)
    ? null
    : `"${name.slice(0, 80)}" is not a user name: lower-case letters, digits, dots, hyphens and underscores, starting with a letter, at most 63`;
}

const badRequest = (what: string, problem: string) =>
  new HttpError(400, "TEND_E_BAD_REQUEST", `The ${what} ${problem}.`);

export async function addUser(
  storage: Storage,
  actor: Actor,
  u: { name: string; role: Role; password: string },
  now = Date.now(),
): Promise<void> {
  const nameProblem = userNameProblem(u.name);
  if (nameProblem) throw new HttpError(400, "TEND_E_BAD_REQUEST", `${nameProblem}.`);
  const problem = passwordProblem(u.password);
  if (problem) throw badRequest("password", problem);
  const password_hash = await hashPassword(u.password);
  if (
    !(await storage.createUser({
      name: u.name,
      role: u.role,
      password_hash,
      created_at: now,
      changed_at: now,
    }))
  ) {
    throw new HttpError(409, "TEND_E_USER_EXISTS", `There is already a user named "${u.name}".`);
  }
  await audit(storage, actor, { action: "user.add", details: { user: u.name, role: u.role } }, now);
}

/** Changes a user's role and/or password; a new password ends the user's sessions. */
export async function changeUser(
  storage: Storage,
  actor: Actor,
  name: string,
  change: { role?: Role; password?: string },
  now = Date.now(),
): Promise<void> {
  if (change.password !== undefined) {
    const problem = passwordProblem(change.password);
    if (problem) throw badRequest("password", problem);
  }
  const password_hash = change.password === undefined ? undefined : await hashPassword(change.password);
  const done = await storage.updateUser(
    name,
    { ...(change.role ? { role: change.role } : {}), ...(password_hash ? { password_hash } : {}) },
    now,
  );
  if (!done) throw noSuchUser(name);
  if (change.role)
    await audit(storage, actor, { action: "user.role", details: { user: name, role: change.role } }, now);
  if (password_hash) await audit(storage, actor, { action: "user.password", details: { user: name } }, now);
}

export async function removeUser(
  storage: Storage,
  actor: Actor,
  name: string,
  now = Date.now(),
): Promise<void> {
  if (!(await storage.removeUser(name))) throw noSuchUser(name);
  await audit(storage, actor, { action: "user.remove", details: { user: name } }, now);
}

export const noSuchUser = (name: string) =>
  new HttpError(404, "TEND_E_HTTP_NOT_FOUND", `There is no user named "${name.slice(0, 80)}".`);
