import path from "node:path";
import { expect, test } from "./fixtures";
import { createApproval, logIn, newAccount, newKey, waitForHydration } from "./helpers";

const screenshots = path.join(__dirname, "..", "screenshots");

test("filters by agent, action and title narrow the inbox and live in the address", async ({ page, request }) => {
  const account = newAccount("filters");
  const other = newKey("filters-other", account.email);
  await createApproval(request, account.key, { title: "Refund $240 to Lila Chen", action: "billing.refund" });
  await createApproval(request, account.key, { title: "Send the spring campaign", action: "email.send_campaign" });
  await createApproval(request, other.key, { title: "Refund $12 to Ben Ortiz", action: "billing.refund" });
  await logIn(page, account.email);
  const items = page.locator(".inbox-item");
  await expect(items).toHaveCount(3);

  await page.getByLabel("Action", { exact: true }).selectOption("billing.refund");
  await expect(items).toHaveCount(2);
  await expect(page).toHaveURL(/[?&]action=billing\.refund/);
  await page.getByLabel("Agent", { exact: true }).selectOption(other.agent);
  await expect(items).toHaveCount(1);
  await expect(items.first()).toContainText("Refund $12 to Ben Ortiz");
  await page.getByLabel("Title", { exact: true }).fill("LILA");
  await expect(items).toHaveCount(0);
  await expect(page.getByText("Nothing waiting matches these filters.")).toBeVisible();
  await expect(page).toHaveURL(/[?&]q=LILA/);

  // The address brings the same view back.
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByLabel("Title", { exact: true })).toHaveValue("LILA");
  await expect(items).toHaveCount(0);

  // A new approval that matches appears live; the count covers everything pending.
  await createApproval(request, other.key, { title: "Refund $80 to Lila Chen (second order)", action: "billing.refund" });
  await expect(items).toHaveCount(1);
  await expect(page).toHaveTitle("(4) Inbox · Holdpoint");
  await page.getByRole("link", { name: "Clear filters" }).click();
  await expect(items).toHaveCount(4);
  await expect(page).toHaveURL(/\/(\?selected=[^&]+)?$/);
});

test("an approval arriving while the tab is hidden raises a notification", async ({ page, context, request }) => {
  await context.grantPermissions(["notifications"]);
  // Headless tabs are never hidden, and their notifications cannot be seen:
  // the test decides whether the tab is hidden, and records each
  // notification the page creates through the real API.
  await page.addInitScript(() => {
    const w = window as unknown as { __hidden: boolean; __shown: { title: string; body?: string }[]; Notification: typeof Notification };
    w.__hidden = false;
    w.__shown = [];
    Object.defineProperty(document, "hidden", { configurable: true, get: () => w.__hidden });
    const Real = w.Notification;
    w.Notification = class extends Real {
      constructor(title: string, options?: NotificationOptions) {
        super(title, options);
        w.__shown.push({ title, body: options?.body });
      }
    } as typeof Notification;
  });
  const account = newAccount("notify");
  await logIn(page, account.email);
  await expect(page.getByText("Notifications on")).toBeVisible();

  await createApproval(request, account.key, { title: "Seen while the tab is in front" });
  await expect(page.locator(".inbox-item")).toHaveCount(1);
  await page.evaluate(() => ((window as unknown as { __hidden: boolean }).__hidden = true));
  await createApproval(request, account.key, { title: "Arrived while the tab was hidden" });
  await expect(page.locator(".inbox-item")).toHaveCount(2);
  const shown = await page.evaluate(() => (window as unknown as { __shown: { title: string; body: string }[] }).__shown);
  expect(shown).toHaveLength(1);
  expect(shown[0].title).toBe("New approval · Holdpoint");
  expect(shown[0].body).toContain("Arrived while the tab was hidden");
});

test("screenshots of the inbox: light and dark, desktop and phone", async ({ page, request }, testInfo) => {
  const account = newAccount("look");
  await createApproval(request, account.key, {
    title: "Send \"Spring sale\" to 4,812 recipients",
    action: "email.send_campaign",
    body:
      "<h2>Spring sale: up to 40% off</h2><p>Hi {{first_name}}, our <strong>spring sale</strong> starts Monday.</p>" +
      "<table><tr><th>Segment</th><th>Recipients</th></tr><tr><td>EU customers</td><td>3,104</td></tr><tr><td>UK customers</td><td>1,708</td></tr></table>",
    data: { campaignId: "cmp_123", recipientCount: 4812, segments: ["eu", "uk"], sendAt: "2026-11-30T09:00:00Z" },
  });
  await createApproval(request, account.key, { title: "Refund $240 to Lila Chen on order #8821", action: "billing.refund", data: { order: 8821, amount_cents: 24000 } });
  await createApproval(request, account.key, {
    title: "Run migration 0042 on the production database",
    action: "db.migrate",
    body: "<pre><code>ALTER TABLE orders ADD COLUMN refunded_at timestamptz;</code></pre>",
  });
  await logIn(page, account.email);
  await expect(page.locator(".link-state")).toHaveAttribute("data-state", "live");

  const sizes = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };
  for (const scheme of ["light", "dark"] as const) {
    for (const [device, size] of Object.entries(sizes)) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.setViewportSize(size);
      const name = `inbox-${scheme}-${device}`;
      const file = path.join(screenshots, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      await testInfo.attach(name, { path: file, contentType: "image/png" });
      // Nothing is wider than the screen.
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    }
  }
  // Dark mode follows the system.
  const background = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  expect(background).toBe("rgb(18, 19, 22)");
  // Every button has a name a screen reader can say.
  for (const button of await page.getByRole("button").all()) {
    expect((await button.getAttribute("aria-label")) ?? (await button.innerText()).trim()).not.toBe("");
  }
});
