/**
 * Users and groups as the box has them: /etc/passwd and /etc/group parsed directly (no process
 * per read). `Accounts` caches one parse per run and re-reads on a miss, so a user created earlier
 * in the same run is found.
 */
import { readFileSync } from "node:fs";

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  comment: string;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#") || line.startsWith("+") || line.startsWith("-")) continue;
    const f = line.split(":");
    if (f.length < 7) continue;
    out.push({
      name: f[0]!,
      uid: Number(f[2]),
      gid: Number(f[3]),
      comment: f[4]!,
      home: f[5]!,
      shell: f[6]!,
    });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#") || line.startsWith("+") || line.startsWith("-")) continue;
    const f = line.split(":");
    if (f.length < 4) continue;
    out.push({ name: f[0]!, gid: Number(f[2]), members: f[3] ? f[3].split(",").filter(Boolean) : [] });
  }
  return out;
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

export class Accounts {
  private users: PasswdEntry[] | null = null;
  private groups: GroupEntry[] | null = null;

  constructor(
    private readonly passwdPath = "/etc/passwd",
    private readonly groupPath = "/etc/group",
  ) {}

  /** Forget what was read: call after changing users or groups. */
  invalidate(): void {
    this.users = null;
    this.groups = null;
  }

  allUsers(): PasswdEntry[] {
    this.users ??= parsePasswd(readOrEmpty(this.passwdPath));
    return this.users;
  }

  allGroups(): GroupEntry[] {
    this.groups ??= parseGroup(readOrEmpty(this.groupPath));
    return this.groups;
  }

  user(name: string): PasswdEntry | undefined {
    const hit = this.allUsers().find((u) => u.name === name);
    if (hit) return hit;
    this.users = null;
    return this.allUsers().find((u) => u.name === name);
  }

  group(name: string): GroupEntry | undefined {
    const hit = this.allGroups().find((g) => g.name === name);
    if (hit) return hit;
    this.groups = null;
    return this.allGroups().find((g) => g.name === name);
  }

  userById(uid: number): PasswdEntry | undefined {
    return this.allUsers().find((u) => u.uid === uid);
  }

  groupById(gid: number): GroupEntry | undefined {
    return this.allGroups().find((g) => g.gid === gid);
  }

  /** A uid from a name or a numeric string; undefined when no such user. */
  uidOf(owner: string): number | undefined {
    if (/^\d+$/.test(owner)) return Number(owner);
    return this.user(owner)?.uid;
  }

  gidOf(group: string): number | undefined {
    if (/^\d+$/.test(group)) return Number(group);
    return this.group(group)?.gid;
  }

  /** Names of the supplementary groups `user` is listed in. */
  groupsOf(user: string): string[] {
    return this.allGroups()
      .filter((g) => g.members.includes(user))
      .map((g) => g.name);
  }
}
