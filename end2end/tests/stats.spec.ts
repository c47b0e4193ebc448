import path from "node:path";
import { type Browser, type Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { rmSync, seededDataDir, startFreshServer, submitLogin, waitForHydration } from "./helpers";

const screenshots = path.join(__dirname, "..", "screenshots");
const ROWS = 3000;
/** The stated error of a percentile read from histogram buckets. */
const BUCKET_ERROR = 0.0905;

async function signIn(browser: Browser, base: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await waitForHydration(page);
  await submitLogin(page, "admin@example.com");
  await expect(page.getByRole("link", { name: "Stats" })).toBeVisible();
  return page;
}

async function figureMs(page: Page, name: string): Promise<number> {
  return Number(await page.locator(`[data-figure=${name}]`).getAttribute("data-ms"));
}

test("the Stats page shows a seeded history, counts again when someone decides elsewhere, and reads well", async ({ page, browser }, testInfo) => {
  test.setTimeout(120_000);
  const { dataDir, figures } = seededDataDir(ROWS);
  const server = await startFreshServer(dataDir);
  const base = server.baseURL;
  try {
    await page.goto(`${base}/login`);
    await waitForHydration(page);
    await submitLogin(page, "admin@example.com");
    await page.getByRole("link", { name: "Stats" }).click();
    await expect(page.getByRole("heading", { name: "Stats", exact: true })).toBeVisible();
    await waitForHydration(page);

    // All time: the seeded figures, percentiles within the stated error.
    await page.getByText("All time").click();
    await page.getByRole("button", { name: "Show" }).click();
    await expect(page).toHaveURL(/window=all/);
    const decisions = page.locator("[data-figure=decisions]");
    await expect(decisions).toHaveText(String(figures.decisions));
    for (const p of ["p50", "p90"] as const) {
      const shown = await figureMs(page, p);
      const exact = figures[`${p}_ms`];
      expect(Math.abs(shown - exact) / exact, `${p}: ${shown} for ${exact}`).toBeLessThanOrEqual(BUCKET_ERROR);
    }
    await expect(page.locator("[data-figure=pending]")).toHaveText(String(figures.counts.pending));
    const ended = figures.counts.approved + figures.counts.denied + figures.counts.expired + figures.counts.cancelled;
    const totals = await page.locator("table.outcomes tbody tr td:nth-child(6)").allTextContents();
    expect(totals.map(Number).reduce((a, b) => a + b, 0)).toBe(ended);
    // Each chart has a name and a description for a screen reader.
    await expect(page.getByRole("img", { name: "How long decisions took" })).toBeVisible();
    await expect(page.getByRole("img", { name: "Daily p50 and p90 of decision times" })).toBeVisible();

    // Someone decides in another browser: this page counts again by itself.
    await expect(page.locator(".link-state")).toHaveAttribute("data-state", "live");
    const other = await signIn(browser, base);
    const pendingId = `apr_${String(ROWS).padStart(26, "0")}`;
    const decided = await other.request.post(`${base}/rpc/decide`, { form: { id: pendingId, verdict: "approve" } });
    expect(decided.status()).toBe(200);
    await expect(decisions).toHaveText(String(figures.decisions + 1));
    await expect(page.locator("[data-figure=pending]")).toHaveText(String(figures.counts.pending - 1));
    await other.context().close();

    // A breakdown's name narrows the view, in the address.
    await page.getByRole("link", { name: "email.send" }).first().click();
    await expect(page).toHaveURL(/kind=email\.send/);
    await expect(page.getByRole("combobox", { name: "Kind" })).toHaveValue("email.send");
    const narrowed = Number(await decisions.textContent());
    expect(narrowed).toBeGreaterThan(0);
    expect(narrowed).toBeLessThan(figures.decisions);

    // Screenshots, light and dark, desktop and phone; nothing wider than the screen.
    await page.goto(`${base}/stats?window=30d`);
    await waitForHydration(page);
    const sizes = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };
    for (const scheme of ["light", "dark"] as const) {
      for (const [device, size] of Object.entries(sizes)) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.setViewportSize(size);
        const name = `stats-${scheme}-${device}`;
        const file = path.join(screenshots, `${name}.png`);
        await page.screenshot({ path: file, fullPage: true });
        await testInfo.attach(name, { path: file, contentType: "image/png" });
        expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
      }
    }
  } finally {
    server.process.kill("SIGINT");
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("the Stats page works before its code has loaded", async ({ browser }) => {
  const { dataDir, figures } = seededDataDir(300);
  const server = await startFreshServer(dataDir);
  try {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${server.baseURL}/login`);
    await submitLogin(page, "admin@example.com");
    await page.goto(`${server.baseURL}/stats?window=all`);
    await expect(page.locator("[data-figure=decisions]")).toHaveText(String(figures.decisions));
    // The filter form is a plain GET form.
    await page.getByRole("combobox", { name: "Kind" }).selectOption("billing.refund");
    await page.getByRole("button", { name: "Show" }).click();
    await expect(page).toHaveURL(/kind=billing\.refund/);
    await expect(page.locator("[data-figure=decisions]")).not.toHaveText(String(figures.decisions));
    await context.close();
  } finally {
    server.process.kill("SIGINT");
    rmSync(dataDir, { recursive: true, force: true });
  }
});
