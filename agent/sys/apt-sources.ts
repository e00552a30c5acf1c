/**
 * apt for one sources file at a time: `apt-get update` of that file alone (the other sources and
 * their lists untouched, so an unrelated broken mirror cannot fail it and nothing else is
 * re-downloaded), and the index files apt keeps for it, as apt itself names them.
 */
import { TendError } from "../../core/errors.js";
import { cEnv, describeExit, lastLines, run } from "./proc.js";

/** apt options that make it read `sourcesFile` and no other source. */
function only(sourcesFile: string): string[] {
  return ["-o", `Dir::Etc::SourceList=${sourcesFile}`, "-o", "Dir::Etc::SourceParts=-"];
}

const env = () => cEnv({ DEBIAN_FRONTEND: "noninteractive" });

/** Fetches the lists of the repositories in `sourcesFile`; any failure (a bad signature, a 404) is an error. */
export async function updateSource(
  id: string,
  sourcesFile: string,
  lockTimeoutS: number,
  signal?: AbortSignal,
): Promise<void> {
  const argv = [
    "apt-get",
    "update",
    "-q",
    "--error-on=any",
    ...only(sourcesFile),
    "-o",
    "APT::Get::List-Cleanup=0",
    "-o",
    `DPkg::Lock::Timeout=${Math.max(0, Math.round(lockTimeoutS))}`,
  ];
  const r = await run(argv, { env: env(), signal });
  if (r.code === 0) return;
  throw new TendError(
    "TEND_E_APT_UPDATE",
    `${id}: apt-get update of ${sourcesFile} ${describeExit(r)}:\n${lastLines(r.output, 8)}`,
  );
}

/** The list files apt has for the repositories in `sourcesFile` (those it fetched). */
export async function indexFiles(sourcesFile: string, signal?: AbortSignal): Promise<string[]> {
  const r = await run(["apt-get", "indextargets", ...only(sourcesFile), "--format", "$(FILENAME)"], {
    env: env(),
    signal,
  });
  if (r.code !== 0)
    throw new TendError(
      "TEND_E_COMMAND_FAILED",
      `apt-get indextargets ${describeExit(r)}: ${lastLines(r.output, 5)}`,
    );
  return r.stdout.split("\n").filter((l) => l.startsWith("/"));
}
