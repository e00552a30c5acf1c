/**
 * `tend server user add | list | role | passwd | remove`: the dashboard's named accounts, written
 * straight to the database (as `tend server token` does) and recorded in the audit log as
 * `cli:<unix user>`. Passwords come from a file, a pipe or a prompt (password-input.ts).
 */
import { TendError } from "../../core/errors.js";
import { addUser, changeUser, removeUser } from "../actions/users.js";
import { cliActor } from "../audit.js";
import { HttpError } from "../http.js";
import { isRole, type Role } from "../roles.js";
import { help, parse, usage, withStorage } from "./args.js";
import { readNewPassword } from "./password-input.js";

/** The actions answer in HTTP terms; a command says the same sentence with the same code. */
export async function asCommand<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof HttpError) throw new TendError(err.code, err.message);
    throw err;
  }
}

function roleOf(value: unknown): Role {
  if (!isRole(value)) {
    throw new TendError(
      "TEND_E_USAGE",
      `--role must be admin, operator or viewer, not "${String(value ?? "")}"\n${usage}`,
    );
  }
  return value;
}

function nameOf(positionals: string[], what: string): string {
  const name = positionals[0];
  if (name === undefined) throw new TendError("TEND_E_USAGE", `user ${what} needs a user name\n${usage}`);
  return name;
}

export async function userAdd(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { role: { type: "string" }, "password-file": { type: "string" } },
    1,
  );
  if (values.help) return help();
  const name = nameOf(positionals, "add");
  const role = roleOf(values.role);
  const password = await readNewPassword(values["password-file"] as string | undefined);
  await withStorage(values, (s) => asCommand(() => addUser(s, cliActor(), { name, role, password })));
  process.stdout.write(`added user ${name} (${role})\n`);
  return 0;
}

export async function userList(argv: string[]): Promise<number> {
  const { values } = parse(argv, {});
  if (values.help) return help();
  const users = await withStorage(values, (s) => s.listUsers());
  const lines = users.map((u) =>
    [u.name, u.role, new Date(u.created_at).toISOString(), new Date(u.changed_at).toISOString()].join("\t"),
  );
  process.stdout.write(["name\trole\tcreated\tchanged", ...lines, ""].join("\n"));
  return 0;
}

export async function userRole(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { role: { type: "string" } }, 1);
  if (values.help) return help();
  const name = nameOf(positionals, "role");
  const role = roleOf(values.role);
  await withStorage(values, (s) => asCommand(() => changeUser(s, cliActor(), name, { role })));
  process.stdout.write(`user ${name} is now ${role}\n`);
  return 0;
}

export async function userPasswd(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { "password-file": { type: "string" } }, 1);
  if (values.help) return help();
  const name = nameOf(positionals, "passwd");
  const password = await readNewPassword(values["password-file"] as string | undefined);
  await withStorage(values, (s) => asCommand(() => changeUser(s, cliActor(), name, { password })));
  process.stdout.write(`changed the password of ${name}; its sessions have ended\n`);
  return 0;
}

export async function userRemove(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {}, 1);
  if (values.help) return help();
  const name = nameOf(positionals, "remove");
  await withStorage(values, (s) => asCommand(() => removeUser(s, cliActor(), name)));
  process.stdout.write(`removed user ${name}; its sessions have ended\n`);
  return 0;
}
