import { expect, test } from "./fixtures";
import path from "node:path";
import { createApproval, logIn, newAdmin, newKey } from "./helpers";

// The shared server suggests after 3 approvals in a row by one person, on
// any day, and suggests sampling every one (playwright.config.ts), so a
// suggestion and a sampled item show up within one test.
const screenshots = path.join(__dirname, "..", "screenshots");

test("an admin applies a suggestion, reviews a sample, and a flag puts the gate back", async ({ page }) => {
  const admin = newAdmin("policies");
  const { agent, key } = newKey("policies", admin);
  const kind = `e2e${Date.now()}.refund`;
  await logIn(page, admin);

  // The evidence: three refunds approved by this admin.
  for (let n = 1; n <= 3; n++) {
    const created = await createApproval(page.request, key, { title: `Refund ${n}`, action: kind, data: { n } });
    const decided = await page.request.post("/rpc/decide", { form: { id: created.id, verdict: "approve" } });
    expect(decided.status()).toBe(200);
  }

  await page.goto("/admin/policies");
  const apply = page.getByRole("button", { name: `Apply: create sample-${kind}`, exact: true });
  const suggestion = page.locator("tr.suggestion").filter({ has: apply });
  await expect(suggestion).toContainText("approved 3 in a row over 0 days by 1 person; consider sampling 100 %");
  await expect(suggestion).toContainText("3 approvals since the last denial (threshold 3)");
  await apply.click();
  const policy = page.locator(`li.policy[data-policy="sample-${kind}"]`);
  await expect(policy).toBeVisible();
  await expect(policy.locator(".mode")).toHaveText("sample 100 %");

  // The next refund is approved at once and sampled for review.
  const sampled = await createApproval(page.request, key, { title: "Refund 4", action: kind, data: { n: 4 } });
  expect(sampled.status).toBe("approved");
  expect(sampled.decided_by).toBe(`policy:sample-${kind}`);

  await page.goto("/review");
  const item = page.locator(`li.review[data-id="${sampled.id}"]`);
  await expect(item).toContainText("Refund 4");
  await expect(item).toContainText(agent);
  await page.screenshot({ path: path.join(screenshots, "review-queue.png"), fullPage: true });

  await item.getByLabel("Why it should not have gone through").fill("Refunded twice: check the order first");
  await item.getByRole("button", { name: "Flag" }).click();
  const reviewed = page.locator(`li.review.flagged[data-id="${sampled.id}"]`);
  await expect(reviewed).toContainText("Refunded twice: check the order first");

  // The policy is back to gate, and says why.
  await page.goto("/admin/policies");
  await expect(policy.locator(".mode")).toHaveText("gate");
  await expect(policy.locator(".reverted")).toContainText("Refunded twice");
  await policy.getByText("Edit").click();
  await page.screenshot({ path: path.join(screenshots, "policy-editor.png"), fullPage: true });

  // The admins' inbox says so; the next request waits for a person.
  const waiting = await createApproval(page.request, key, { title: "Refund 5", action: kind, data: { n: 5 } });
  expect(waiting.status).toBe("pending");
  await page.goto("/");
  await expect(page.locator(`.flag-notice[data-id="${sampled.id}"]`)).toContainText(`Policy sample-${kind} is back to gate.`);
  await expect(page.locator(`[data-id="${waiting.id}"]`).first()).toBeVisible();
});

test("a condition that does not parse is refused beside its field", async ({ page }) => {
  const admin = newAdmin("policy-editor");
  await logIn(page, admin);
  await page.goto("/admin/policies");
  const form = page.locator("#new-policy-heading + form");
  await form.getByLabel(/^Name/).fill(`broken-${Date.now()}`);
  await form.getByLabel(/^Action kinds/).fill("billing.refund");
  await form.getByLabel(/^Condition/).fill("data.amount_cents <= ");
  await form.getByRole("button", { name: "Save policy" }).click();
  await expect(form.locator(".field-error").filter({ hasText: "line 1, column" })).toBeVisible();
});

test("the Policies and Review pages fit a phone", async ({ page }) => {
  const admin = newAdmin("policy-phone");
  await page.setViewportSize({ width: 390, height: 844 });
  await logIn(page, admin);
  for (const path of ["/admin/policies", "/review"]) {
    await page.goto(path);
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), path).toBe(true);
  }
});
