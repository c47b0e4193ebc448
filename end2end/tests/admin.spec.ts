import path from "node:path";
import { type Browser, type Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { rmSync, setupLink, startFreshServer, waitForHydration } from "./helpers";

const screenshots = path.join(__dirname, "..", "screenshots");
const PASSWORD = "a long enough password";

/** The one-time value a page has just shown (a link or a key). */
async function shownOnce(page: Page, label: string): Promise<string> {
  const callout = page.locator(".shown-once", { hasText: label }).last();
  await expect(callout).toBeVisible();
  return ((await callout.locator("code.secret").textContent()) ?? "").trim();
}

/** A new browser (its own cookies) where the invited person follows their link. */
async function acceptInvitation(browser: Browser, link: string, name: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(link);
  await waitForHydration(page);
  await page.getByLabel("Your name (optional)").fill(name);
  await page.getByLabel("Password (at least 8 characters)").fill(PASSWORD);
  await page.getByRole("button", { name: "Save password and sign in" }).click();
  await expect(page.getByRole("link", { name: "History" })).toBeVisible();
  return page;
}

async function invite(admin: Page, email: string, role: string): Promise<string> {
  await admin.getByLabel("Email").fill(email);
  await admin.getByLabel("Role", { exact: true }).selectOption(role);
  await admin.getByRole("button", { name: "Invite" }).click();
  return shownOnce(admin, `One-time link for ${email}`);
}

test("an admin sets up people, a group and a key in the browser; routing and roles hold", async ({ page, browser }, testInfo) => {
  test.setTimeout(120_000);
  const server = await startFreshServer();
  const base = server.baseURL;
  try {
    // First run: the setup link creates the admin.
    await page.goto(setupLink(server));
    await waitForHydration(page);
    await page.getByLabel("Email").fill("founder@example.com");
    await page.getByLabel("Password (at least 8 characters)").fill(PASSWORD);
    await page.getByRole("button", { name: "Create admin and sign in" }).click();
    await expect(page.getByRole("link", { name: "People" })).toBeVisible();

    // People: invite an approver, a second approver and a viewer.
    await page.getByRole("link", { name: "People" }).click();
    await expect(page.getByRole("heading", { name: "People" })).toBeVisible();
    await waitForHydration(page);
    const miaLink = await invite(page, "mia@example.com", "approver");
    expect(miaLink).toContain(`${base}/welcome?token=`);
    await expect(page.getByRole("button", { name: "Copy" }).last()).toBeVisible();
    const ottoLink = await invite(page, "otto@example.com", "approver");
    const vicLink = await invite(page, "vic@example.com", "viewer");
    await expect(page.locator("tr[data-email='vic@example.com']")).toContainText("invited");
    // A refused invitation says why next to the form.
    await page.getByLabel("Email").fill("mia@example.com");
    await page.getByRole("button", { name: "Invite" }).click();
    await expect(page.locator(".admin-form .field-error")).toContainText("already exists");

    // The invitees choose their passwords.
    const mia = await acceptInvitation(browser, miaLink, "Mia");
    const otto = await acceptInvitation(browser, ottoLink, "Otto");
    const vic = await acceptInvitation(browser, vicLink, "Vic");
    // A used link is spent.
    await otto.goto(miaLink);
    await expect(otto.getByRole("alert")).toContainText("not valid");

    // Groups: billing, with Mia in it.
    await page.getByRole("link", { name: "Groups" }).click();
    await waitForHydration(page);
    await page.getByLabel("Name (a-z, 0-9, - _ .)").fill("billing");
    await page.getByRole("button", { name: "Create group" }).click();
    const billing = page.locator("article.group[data-group=billing]");
    await expect(billing).toBeVisible();
    await billing.getByLabel("Add").selectOption("mia@example.com");
    await billing.getByRole("button", { name: "Add to group" }).click();
    await expect(billing.locator("ul.members")).toContainText("mia@example.com");

    // API keys: one for the billing agent, routed to the group by default.
    await page.getByRole("link", { name: "API keys" }).click();
    await waitForHydration(page);
    await page.getByLabel("Agent name (shown on every approval it asks for)").fill("billing-agent");
    await page.getByLabel("Its approvals go to, unless it names someone").selectOption("group:billing");
    await page.getByRole("button", { name: "Create key" }).click();
    const key = await shownOnce(page, "API key billing-agent");
    expect(key).toMatch(/^hp_/);
    await expect(page.getByLabel("Where approvals of billing-agent go")).toHaveValue("group:billing");

    // The agent asks, naming the group.
    const created = await page.request.post(`${base}/api/v1/approvals`, {
      headers: { Authorization: `Bearer ${key}` },
      data: { title: "Refund $240 to Lila Chen", group: "billing", action: "billing.refund" },
    });
    expect(created.status()).toBe(201);
    const approval = await created.json();
    expect(approval.group).toBe("billing");

    // Otto (not in the group) does not see it; Vic (viewer) sees it without buttons.
    await otto.goto(`${base}/`);
    await expect(otto.getByRole("heading", { name: "Nothing waiting" })).toBeVisible();
    await vic.goto(`${base}/`);
    await waitForHydration(vic);
    await expect(vic.getByRole("heading", { name: "Refund $240 to Lila Chen" })).toBeVisible();
    await expect(vic.getByText("viewers only look")).toBeVisible();
    await expect(vic.getByRole("button", { name: /Approve/ })).toHaveCount(0);
    // Posting anyway is refused, for the viewer and for the outsider.
    for (const [who, asker] of [["viewer", vic], ["outsider", otto]] as const) {
      const forced = await asker.request.post(`${base}/rpc/decide`, {
        form: { id: approval.id, verdict: "approve" },
      });
      expect([403, 404], `${who} forcing a decision`).toContain(forced.status());
    }

    // Mia, in the group, sees it and decides.
    await mia.goto(`${base}/`);
    await waitForHydration(mia);
    await expect(mia.getByRole("heading", { name: "Refund $240 to Lila Chen" })).toBeVisible();
    await mia.getByRole("button", { name: /Approve/ }).click();
    await expect(mia.getByRole("heading", { name: "Nothing waiting" })).toBeVisible();
    const decided = await page.request.get(`${base}/api/v1/approvals/${approval.id}`, {
      headers: { Authorization: `Bearer ${key}` },
    });
    expect((await decided.json()).decided_by).toBe("mia@example.com");

    // Deactivating Mia closes her open inbox within seconds.
    await expect(mia.locator(".link-state")).toHaveAttribute("data-state", "live");
    await page.getByRole("link", { name: "People" }).click();
    await waitForHydration(page);
    const row = page.locator("tr[data-email='mia@example.com']");
    await row.getByText("Deactivate…").click();
    await row.getByRole("button", { name: "Deactivate mia@example.com" }).click();
    await expect(row).toContainText("deactivated");
    await expect(mia).toHaveURL(/\/login/, { timeout: 10_000 });

    // Each admin page, light and dark, desktop and phone.
    const sizes = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };
    for (const pagePath of ["people", "groups", "keys"]) {
      await page.goto(`${base}/admin/${pagePath}`);
      await waitForHydration(page);
      for (const scheme of ["light", "dark"] as const) {
        for (const [device, size] of Object.entries(sizes)) {
          await page.emulateMedia({ colorScheme: scheme });
          await page.setViewportSize(size);
          const name = `admin-${pagePath}-${scheme}-${device}`;
          const file = path.join(screenshots, `${name}.png`);
          await page.screenshot({ path: file, fullPage: true });
          await testInfo.attach(name, { path: file, contentType: "image/png" });
          expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), name).toBe(true);
        }
      }
    }
  } finally {
    server.process.kill();
    rmSync(server.dataDir, { recursive: true, force: true });
  }
});
