import path from "node:path";
import { type Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { rmSync, seededDataDir, startFreshServer, submitLogin, waitForHydration } from "./helpers";

const screenshots = path.join(__dirname, "..", "screenshots");

/** The one-time value a page has just shown (a key). */
async function shownOnce(page: Page, label: string): Promise<string> {
  const callout = page.locator(".shown-once", { hasText: label }).last();
  await expect(callout).toBeVisible();
  return ((await callout.locator("code.secret").textContent()) ?? "").trim();
}

test("the Audit page shows who did what, filters in the address, exports, and shows the chain head", async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  const { dataDir } = seededDataDir(100);
  const server = await startFreshServer(dataDir);
  const base = server.baseURL;
  try {
    await page.goto(`${base}/login`);
    await waitForHydration(page);
    await submitLogin(page, "admin@example.com");
    await expect(page.getByRole("link", { name: "Audit" })).toBeVisible();

    // An agent's key, made on the Keys page; two requests, one denied.
    await page.getByRole("link", { name: "API keys" }).click();
    await waitForHydration(page);
    await page.getByLabel("Agent name (shown on every approval it asks for)").fill("refund-bot");
    await page.getByRole("button", { name: "Create key" }).click();
    const key = await shownOnce(page, "API key refund-bot");
    const auth = { Authorization: `Bearer ${key}` };
    const ids: string[] = [];
    for (const title of ["Refund $240 to Lila Chen", "Refund $12 to Ada King"]) {
      const created = await page.request.post(`${base}/api/v1/approvals`, {
        headers: auth,
        data: { title, action: "billing.refund", data: { amount_cents: 24000 } },
      });
      expect(created.status()).toBe(201);
      ids.push((await created.json()).id);
    }
    await page.goto(`${base}/?selected=${ids[0]}`);
    await waitForHydration(page);
    const card = page.locator(`article[data-id="${ids[0]}"]`);
    await card.getByText("Deny…").click();
    await card.getByLabel("Reason (sent back to the agent)").fill("Over the refund limit; ask finance.");
    await card.getByRole("button", { name: "Send denial" }).click();
    await expect(page.getByRole("status").filter({ hasText: "Denied" })).toBeVisible();

    // The log: newest first, with who and what.
    await page.getByRole("link", { name: "Audit" }).click();
    await waitForHydration(page);
    await expect(page.getByRole("heading", { name: "Audit log" })).toBeVisible();
    const rows = page.locator("table.audit-table tbody tr");
    await expect(rows.first()).toHaveAttribute("data-kind", "denied");
    await expect(rows.first()).toContainText("Over the refund limit; ask finance.");
    await expect(page.locator("tr[data-kind=key_created]")).toContainText("refund-bot");
    await expect(page.locator("tr[data-kind=created]")).toHaveCount(2);
    await expect(page.locator("tr[data-kind=signed_in]").first()).toContainText("admin@example.com");
    const headSeq = await page.locator("[data-head-seq]").getAttribute("data-head-seq");
    expect(Number(headSeq)).toBe(await rows.count());

    // Filters live in the address.
    await page.getByRole("combobox", { name: "Kind" }).selectOption("created");
    await page.getByRole("button", { name: "Show" }).click();
    await expect(page).toHaveURL(/kind=created/);
    await expect(rows).toHaveCount(2);
    await page.getByLabel("Actor").fill("refund-bot");
    await page.getByRole("button", { name: "Show" }).click();
    await expect(page).toHaveURL(/actor=refund-bot/);
    await expect(rows).toHaveCount(2);

    // The export links carry the filters.
    const csvHref = await page.getByRole("link", { name: "CSV" }).getAttribute("href");
    expect(csvHref).toContain("kind=created");
    const csv = await (await page.request.get(`${base}${csvHref}`)).text();
    const lines = csv.trim().split("\n");
    expect(lines[0]).toBe("seq,time,kind,actor,approval_id,subject,detail,hash");
    expect(lines).toHaveLength(3);

    // Decisions as data: allowed on the Keys page, then read by the key.
    const before = await page.request.get(`${base}/api/v1/decisions`, { headers: auth });
    expect(before.status()).toBe(403);
    await page.getByRole("link", { name: "API keys" }).click();
    await waitForHydration(page);
    await page.locator("tr[data-key=refund-bot]").getByRole("button", { name: "Allow reading decisions" }).click();
    await expect(page.locator("tr[data-key=refund-bot]")).toContainText("reads decisions");
    const after = await page.request.get(`${base}/api/v1/decisions?outcome=denied&agent=refund-bot`, { headers: auth });
    expect(after.status()).toBe(200);
    const decision = JSON.parse((await after.text()).trim());
    expect(decision.reason).toBe("Over the refund limit; ask finance.");
    expect(decision.agent).toBe("refund-bot");

    // Screenshots, light and dark, desktop and phone; nothing wider than the screen.
    await page.goto(`${base}/admin/audit`);
    await waitForHydration(page);
    const sizes = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };
    for (const scheme of ["light", "dark"] as const) {
      for (const [device, size] of Object.entries(sizes)) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.setViewportSize(size);
        const name = `audit-${scheme}-${device}`;
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
