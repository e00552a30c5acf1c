/** The registry of resource kinds: the engine looks a resource's kind up here by its type. */
import type { ResourceType } from "../../core/types.js";
import { exec } from "./exec.js";
import { file } from "./file.js";
import { group } from "./group.js";
import type { Kind } from "./kind.js";
import { pkg } from "./package.js";
import { service } from "./service.js";
import { user } from "./user.js";

export const kinds: Record<ResourceType, Kind> = { package: pkg, file, service, user, group, exec };
