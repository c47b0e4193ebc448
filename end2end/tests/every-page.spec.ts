// Every page of the build under test, as each kind of visitor sees it, at
// desktop and phone width: the client starts (the page hydrates and its
// links navigate without a reload), the live indicator says Live, axe-core
// finds no WCAG 2 AA violation in light or dark, and (the shared fixture)
// nothing is logged as an error.
import AxeBuilder from "@axe-core/playwright";
import { type Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { createApproval, logIn, newAdmin, newApprover, newKey, waitForHydration } from "./helpers";

const widths = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 360, height: 780 },
};

type Role = "viewer" | "approver" | "admin";

const signedInPages = ["/", "/history", "/stats", "/account", "/api/docs"];
const adminPages = [
  "/admin/people",
  "/admin/groups",
  "/admin/keys",
  "/admin/webhooks",
  "/admin/policies",
  "/review",
  "/admin/audit",
];

/** A WCAG 2 A/AA check of the page as it is now, in light and in dark. */
async function expectAccessible(page: Page, path: string) {
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    const { violations } = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
    const found = violations.map((v) => `${v.id} (${v.nodes.length}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    expect(found, `axe-core on ${path} in ${colorScheme}`).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: null });
}

async function expectLive(page: Page) {
  const indicator = page.locator(".link-state");
  await expect(indicator).toHaveAttribute("data-state", "live");
  await expect(indicator).toContainText("Live");
}

/** Opens `path` fresh, waits for the client to start, checks it. */
async function visit(page: Page, path: string) {
  const response = await page.goto(path);
  expect(response?.status(), path).toBeLessThan(400);
  await waitForHydration(page);
  // The inbox and the Stats page count live; their indicator must say so.
  if (path === "/" || path === "/stats") await expectLive(page);
  await expectAccessible(page, path);
}

/** A client-side navigation from this page to the inbox: only a started
 *  client follows a link without loading a new document. */
async function followInboxLink(page: Page) {
  await page.evaluate(() => ((window as unknown as { samePage: boolean }).samePage = true));
  const menu = page.getByRole("navigation", { name: "Main" });
  await menu.getByRole("link", { name: "Inbox" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expectLive(page);
  expect(await page.evaluate(() => (window as unknown as { samePage?: boolean }).samePage)).toBe(true);
}

function personWith(role: Role): string {
  if (role === "admin") return newAdmin("pages");
  return newApprover(`pages-${role}`, undefined, role);
}

for (const [widthName, viewport] of Object.entries(widths)) {
  test.describe(`at ${widthName} width`, () => {
    test.use({ viewport });
    // An admin's round of every page, with axe in light and dark on each,
    // takes about 30 s on 2 busy cores: room for it, so a slow run never
    // leaves its approval behind for the other specs.
    test.setTimeout(120_000);

    test("signed out: sign-in, API reference, one-time links, and the inbox sends to sign-in", async ({ page }) => {
      for (const path of ["/login", "/api/docs", "/setup?token=not-a-token", "/welcome?token=not-a-token"]) {
        await visit(page, path);
      }
      await page.goto("/");
      await expect(page).toHaveURL(/\/login\?next=/);
      await waitForHydration(page);
    });

    for (const role of ["viewer", "approver", "admin"] as const) {
      test(`as ${role === "viewer" ? "a" : "an"} ${role}: every page starts, is live and accessible`, async ({ page, request }) => {
        const email = personWith(role);
        const { key } = newKey(`pages-${role}`);
        const approval = await createApproval(request, key, {
          title: `Send the November newsletter to 4,812 people (${role}, ${widthName})`,
          body: "<p>Subject: <b>What shipped in November</b></p>",
          data: { list: "newsletter", recipients: 4812 },
          action: "email.send_campaign",
        });
        try {
          await logIn(page, email);
          const pages = [...signedInPages, `/approvals/${approval.id}`, ...(role === "admin" ? adminPages : [])];
          for (const path of pages) {
            await visit(page, path);
            // The API reference stands outside the signed-in frame.
            if (path !== "/api/docs") await followInboxLink(page);
          }
        } finally {
          // Routed to anyone who may decide: withdrawn, so the other specs'
          // inboxes hold only their own cards.
          const cancelled = await request.post(`/api/v1/approvals/${approval.id}/cancel`, {
            headers: { Authorization: `Bearer ${key}` },
          });
          expect(cancelled.status()).toBe(200);
        }
      });
    }
  });
}
