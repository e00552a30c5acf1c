import { join } from "node:path";

/**
 * Where boxes live on the host. Outside the repository so a checkout stays clean and
 * several checkouts on one machine share one image; TEND_TEST_CACHE moves it (e.g. in CI).
 */
export const cacheRoot = process.env.TEND_TEST_CACHE ?? "/var/cache/tend-test";
export const imagesDir = join(cacheRoot, "images");
export const boxesDir = join(cacheRoot, "boxes");

/** Every box directory is named `tend-box-<owner pid>-<random>`; the sweep relies on it. */
export const boxDirPrefix = "tend-box-";
