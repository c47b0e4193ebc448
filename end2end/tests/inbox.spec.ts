import { expect, test } from "./fixtures";
import { createApproval, logIn, newAccount, submitLogin, waitForHydration } from "./helpers";

test("signing in leads to the inbox; strangers are sent to the login page", async ({ page }) => {
  const account = newAccount("login");
  await page.goto("/history");
  await expect(page).toHaveURL(/\/login\?next=/);
  await waitForHydration(page);
  await page.getByLabel("Email").fill(account.email);
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("do not match");
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "History" })).toBeVisible();
});

test("an approval created through the API appears as a card", async ({ page, request }) => {
  const account = newAccount("card");
  const approval = await createApproval(request, account.key, {
    title: "Send \"Spring sale\" to 4,812 recipients",
    body: "<h2>Spring sale</h2><p>Up to <strong>40%</strong> off.</p><table><tr><th>Segment</th><td>EU</td></tr></table>",
    data: { campaignId: "cmp_123", recipientCount: 4812 },
    action: "email.send_campaign",
  });
  await logIn(page, account.email);
  await expect(page).toHaveTitle("(1) Inbox · Holdpoint");
  const card = page.locator(`article[data-id="${approval.id}"]`);
  await expect(card.getByRole("heading", { name: "Send \"Spring sale\" to 4,812 recipients" })).toBeVisible();
  await expect(card.locator(".preview strong")).toHaveText("40%");
  await expect(card.locator(".preview td")).toHaveText("EU");
  await expect(card.getByRole("group", { name: "Data" })).toContainText("recipientCount");
  await expect(card.getByRole("group", { name: "Data" })).toContainText("4812");
  await expect(card.locator(".card-meta")).toContainText("email.send_campaign");
  await expect(card.locator(".card-meta")).toContainText("card-agent");
  await expect(card.locator(".card-meta")).toContainText(/waiting (just now|\d+ s)/);

  // The URL the API returned shows the same approval on its own page.
  await page.goto(new URL(approval.url).pathname);
  await waitForHydration(page);
  await expect(page.getByRole("heading", { name: "Send \"Spring sale\" to 4,812 recipients" })).toBeVisible();
});

test("a denial without a reason is refused with a message next to the field", async ({ page, request }) => {
  const account = newAccount("empty");
  const approval = await createApproval(request, account.key, { title: "Delete 300 stale rows" });
  await logIn(page, account.email);
  const card = page.locator(`article[data-id="${approval.id}"]`);
  await card.getByText("Deny…").click();
  await expect(card.getByLabel("Reason (sent back to the agent)")).toBeFocused();
  await card.getByRole("button", { name: "Send denial" }).click();
  await expect(card.locator(".deny-form .field-error")).toContainText("needs a reason");
  await expect(card.getByLabel("Reason (sent back to the agent)")).toHaveAttribute("aria-invalid", "true");

  const state = await request.get(`/api/v1/approvals/${approval.id}`, { headers: { Authorization: `Bearer ${account.key}` } });
  expect((await state.json()).status).toBe("pending");
});

test("a denial with a reason reaches the waiting agent", async ({ page, request }) => {
  const account = newAccount("deny");
  const approval = await createApproval(request, account.key, { title: "Refund $240 to Lila Chen on order #8821" });
  const waiting = request.get(`/api/v1/approvals/${approval.id}/wait?timeout=60`, {
    headers: { Authorization: `Bearer ${account.key}` },
    timeout: 70_000,
  });
  await logIn(page, account.email);
  const card = page.locator(`article[data-id="${approval.id}"]`);
  await card.getByText("Deny…").click();
  await card.getByLabel("Reason (sent back to the agent)").fill("The package arrived intact; no refund.");
  await card.getByRole("button", { name: "Send denial" }).click();

  const outcome = await (await waiting).json();
  expect(outcome.status).toBe("denied");
  expect(outcome.reason).toBe("The package arrived intact; no refund.");
  expect(outcome.decided_by).toBe(account.email);
  await expect(page.getByRole("status")).toContainText("Denied: Refund $240");
  await expect(page.getByRole("heading", { name: "Nothing waiting" })).toBeVisible();
  await expect(page.getByText(/Last decision (just now|\d+ s ago)\./)).toBeVisible();
  await expect(page).toHaveTitle("Inbox · Holdpoint");
});

test("approving with a click tells the agent", async ({ page, request }) => {
  const account = newAccount("approve");
  const approval = await createApproval(request, account.key, { title: "Charge card ending 4242 for $99" });
  await logIn(page, account.email);
  await page.locator(`article[data-id="${approval.id}"]`).getByRole("button", { name: "Approve" }).click();
  await expect(page.getByRole("status")).toContainText("Approved: Charge card");
  const state = await request.get(`/api/v1/approvals/${approval.id}`, { headers: { Authorization: `Bearer ${account.key}` } });
  expect((await state.json()).status).toBe("approved");
  await page.getByRole("link", { name: "History" }).click();
  await expect(page.getByRole("link", { name: "Charge card ending 4242 for $99" })).toBeVisible();
});

test("a hostile preview runs nothing in the browser", async ({ page, request }) => {
  const account = newAccount("xss");
  const dialogs: string[] = [];
  page.on("dialog", async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  const approval = await createApproval(request, account.key, {
    title: "Harmless looking request",
    body:
      "<p>Read me</p>" +
      "<script>window.__pwned = 'script'; alert('script')</script>" +
      "<img src=x onerror=\"window.__pwned = 'img'; alert('img')\">" +
      "<a id=evil href=\"javascript:window.__pwned = 'link'; alert('link')\">click me</a>" +
      "<svg onload=\"window.__pwned = 'svg'; alert('svg')\"><circle r=5></circle></svg>" +
      "<iframe src=\"javascript:alert('frame')\"></iframe>",
    data: { note: "<script>alert('data')</script>" },
  });
  await logIn(page, account.email);
  const card = page.locator(`article[data-id="${approval.id}"]`);
  await expect(card.locator(".preview")).toContainText("Read me");
  await card.locator(".preview").getByText("click me").click();
  await page.waitForTimeout(300);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned)).toBeUndefined();
  expect(dialogs).toEqual([]);
  await expect(card.locator(".preview script, .preview svg, .preview iframe, .preview [onerror]")).toHaveCount(0);
  // The data is shown as text, never as markup.
  await expect(card.getByRole("group", { name: "Data" })).toContainText("<script>alert('data')</script>");
});

test.describe("before the WASM has loaded", () => {
  test.use({ javaScriptEnabled: false });

  test("plain forms sign in and approve", async ({ page, request }) => {
    const account = newAccount("nojs");
    const approval = await createApproval(request, account.key, { title: "Rotate the staging database password" });
    await page.goto("/login");
    await submitLogin(page, account.email, "not the password");
    await expect(page.getByRole("alert")).toContainText("do not match");
    await submitLogin(page, account.email);
    const card = page.locator(`article[data-id="${approval.id}"]`);
    await expect(card).toBeVisible();
    await card.getByRole("button", { name: "Approve" }).click();
    await expect(page.getByRole("heading", { name: "Nothing waiting" })).toBeVisible();
    const state = await request.get(`/api/v1/approvals/${approval.id}`, { headers: { Authorization: `Bearer ${account.key}` } });
    expect((await state.json()).status).toBe("approved");
  });

  test("a plain-form denial without a reason comes back with the message", async ({ page, request }) => {
    const account = newAccount("nojs-deny");
    const approval = await createApproval(request, account.key, { title: "Drop the archive table" });
    await page.goto("/login");
    await submitLogin(page, account.email);
    const card = page.locator(`article[data-id="${approval.id}"]`);
    await card.getByText("Deny…").click();
    await card.getByRole("button", { name: "Send denial" }).click();
    await expect(card.getByRole("alert").filter({ hasText: "needs a reason" }).first()).toBeVisible();
    await card.getByText("Deny…").click();
    await card.getByLabel("Reason (sent back to the agent)").fill("Keep it for the audit.");
    await card.getByRole("button", { name: "Send denial" }).click();
    await expect(page.getByRole("heading", { name: "Nothing waiting" })).toBeVisible();
    const state = await request.get(`/api/v1/approvals/${approval.id}`, { headers: { Authorization: `Bearer ${account.key}` } });
    expect(await state.json()).toMatchObject({ status: "denied", reason: "Keep it for the audit." });
  });
});
