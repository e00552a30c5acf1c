/** Debian's Chromium driven by playwright-core, with every console error and page error collected. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { repoRoot } from "./cli.js";

export const artifacts = join(repoRoot, "test-artifacts", "ui");

export interface UiBrowser {
  browser: Browser;
  page: Page;
  /** Console errors, page errors and failed requests seen so far. */
  problems: string[];
  shot(name: string): Promise<void>;
  /**
   * Click something that navigates and wait until the new document has loaded, so that the next
   * navigation never aborts one still streaming (Chromium reports that as a failed request).
   */
  follow(selector: string): Promise<void>;
  /** Signs in at `base`/ui/login with an admin token (the field under "or use an admin token"). */
  loginWithToken(base: string, token: string): Promise<void>;
  close(): Promise<void>;
}

export async function openBrowser(): Promise<UiBrowser> {
  mkdirSync(artifacts, { recursive: true });
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  const follow = async (selector: string) => {
    const loaded = page.waitForEvent("load");
    await page.click(selector);
    await loaded;
  };
  return {
    browser,
    page,
    problems,
    shot: async (name) => {
      await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
    },
    follow,
    loginWithToken: async (base, token) => {
      await page.goto(`${base}/ui/login`);
      if ((await page.locator("details[open] input[name=token]").count()) === 0)
        await page.click("details summary");
      await page.fill("input[name=token]", token);
      await follow("button[type=submit]");
    },
    close: () => browser.close(),
  };
}
