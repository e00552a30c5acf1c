/** Owner, group and mode for the file kind: what differs, and setting them without following symlinks. */
import { constants, promises as fsp, type Stats } from "node:fs";
import { TendError } from "../../core/errors.js";
import type { Change } from "../../core/types.js";
import type { Accounts } from "../sys/accounts.js";
import { modeString, parseMode } from "./file-content.js";

export interface MetaParams {
  mode?: string;
  owner?: string;
  group?: string;
}

export function wantedIds(p: MetaParams, accounts: Accounts, id: string): { uid?: number; gid?: number } {
  const out: { uid?: number; gid?: number } = {};
  if (p.owner !== undefined) {
    out.uid = accounts.uidOf(p.owner);
    if (out.uid === undefined)
      throw new TendError("TEND_E_UNKNOWN_OWNER", `${id}: owner "${p.owner}" is not a user on this box.`);
  }
  if (p.group !== undefined) {
    out.gid = accounts.gidOf(p.group);
    if (out.gid === undefined)
      throw new TendError("TEND_E_UNKNOWN_OWNER", `${id}: group "${p.group}" is not a group on this box.`);
  }
  return out;
}

export function metaChanges(
  p: MetaParams,
  st: Stats,
  accounts: Accounts,
  id: string,
  withMode: boolean,
): Change[] {
  const changes: Change[] = [];
  if (withMode && p.mode !== undefined && (st.mode & 0o7777) !== parseMode(p.mode)) {
    changes.push({ property: "mode", from: modeString(st.mode), to: modeString(parseMode(p.mode)) });
  }
  const want = wantedIds(p, accounts, id);
  if (want.uid !== undefined && st.uid !== want.uid) {
    changes.push({ property: "owner", from: accounts.userById(st.uid)?.name ?? st.uid, to: p.owner! });
  }
  if (want.gid !== undefined && st.gid !== want.gid) {
    changes.push({ property: "group", from: accounts.groupById(st.gid)?.name ?? st.gid, to: p.group! });
  }
  return changes;
}

export async function setMeta(
  p: MetaParams,
  path: string,
  ids: { uid?: number; gid?: number },
  link: boolean,
): Promise<void> {
  const chown = ids.uid !== undefined || ids.gid !== undefined;
  if (link) {
    if (chown) await fsp.lchown(path, ids.uid ?? -1, ids.gid ?? -1);
    return;
  }
  if (!chown && p.mode === undefined) return;
  // Through a descriptor opened with O_NOFOLLOW: a symlink swapped in since the check is refused,
  // never followed (chown on a path would follow it).
  const h = await fsp.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    if (chown) await h.chown(ids.uid ?? -1, ids.gid ?? -1);
    if (p.mode !== undefined) await h.chmod(parseMode(p.mode));
  } finally {
    await h.close();
  }
}
