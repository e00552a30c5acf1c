import { Box, type BoxOptions } from "./box.js";
import { whyNoBoxes } from "./support.js";

/** The part of a tap Test the helpers use (kept narrow so they work with any tap version). */
interface TapTest {
  teardown(fn: () => unknown): void;
  comment(...message: unknown[]): void;
}

/** Why box tests are skipped here, or false; pass as `{ skip: noBoxes }` to t.test. */
export const noBoxes = whyNoBoxes();

/**
 * Boots a box for test `t`; it is removed when `t` ends, whether it passed, failed or timed out.
 * Use it for a box shared by several subtests: `const box = await bootBox(t, { hostname })`.
 */
export async function bootBox(t: TapTest, opts: BoxOptions): Promise<Box> {
  const box = await Box.boot(opts);
  t.teardown(() => box.remove());
  t.comment(`box ${box.hostname} up in ${box.bootMs} ms`);
  return box;
}

/** Boots a box, hands it to `fn`, and removes it afterwards (also when `fn` throws). */
export async function withBox<T>(t: TapTest, opts: BoxOptions, fn: (box: Box) => Promise<T>): Promise<T> {
  const box = await bootBox(t, opts);
  try {
    return await fn(box);
  } finally {
    await box.remove();
  }
}

/** Boots several boxes at once (in parallel), then as withBox. */
export async function withBoxes<T>(
  t: TapTest,
  opts: BoxOptions[],
  fn: (boxes: Box[]) => Promise<T>,
): Promise<T> {
  const booted = await Promise.allSettled(opts.map((o) => bootBox(t, o)));
  const boxes = booted.flatMap((b) => (b.status === "fulfilled" ? [b.value] : []));
  try {
    const failed = booted.find((b) => b.status === "rejected");
    if (failed) throw failed.reason;
    return await fn(boxes);
  } finally {
    await Promise.all(boxes.map((b) => b.remove()));
  }
}
