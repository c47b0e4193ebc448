import { type Browser, type BrowserContext, type Page, type WebSocketRoute } from "@playwright/test";
import { collectProblems, expect, test } from "./fixtures";
import { baseURL } from "../playwright.config";
import { createApproval, logIn, newAccount, newApprover, newKey, waitForHydration } from "./helpers";

/** A signed-in person in a browser context of their own. */
type Person = { context: BrowserContext; page: Page; problems: string[] };

async function personAt(browser: Browser, email: string, path: string): Promise<Person> {
  // A context of its own does not inherit the config's `use` options.
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const problems = collectProblems(page);
  await logIn(page, email);
  await page.goto(path);
  await waitForHydration(page);
  await expectLive(page);
  return { context, page, problems };
}

async function expectLive(page: Page) {
  await expect(page.locator(".link-state")).toHaveAttribute("data-state", "live");
}

function item(page: Page, id: string) {
  return page.locator(`a.inbox-item[data-id="${id}"]`);
}

/** Marks the page, so a test can tell that it was never reloaded. */
async function markPage(page: Page) {
  await page.evaluate(() => ((window as unknown as { __sameLoad: boolean }).__sameLoad = true));
}

async function expectSamePage(page: Page) {
  expect(await page.evaluate(() => (window as unknown as { __sameLoad?: boolean }).__sameLoad)).toBe(true);
}

async function status(request: import("@playwright/test").APIRequestContext, key: string, id: string) {
  const response = await request.get(`/api/v1/approvals/${id}`, { headers: { Authorization: `Bearer ${key}` } });
  return (await response.json()) as { status: string; reason: string | null };
}

test("two people see a new approval within a second; one decides, the other is told", async ({ browser, request }) => {
  // A key routed to nobody in particular: both approvers may decide.
  const ana = newApprover("ana", "Ana");
  const bo = newApprover("bo", "Bo");
  const { agent, key } = newKey("shared");
  const path = `/?agent=${agent}`;
  const [first, second] = [await personAt(browser, ana, path), await personAt(browser, bo, path)];
  for (const person of [first, second]) await markPage(person.page);

  const approval = await createApproval(request, key, { title: "Send \"Winter sale\" to 4,812 recipients", action: "email.send_campaign" });
  for (const person of [first, second]) {
    await expect(item(person.page, approval.id)).toBeVisible({ timeout: 1_000 });
  }
  await expect(first.page).toHaveTitle(/^\(\d+\) Inbox · Holdpoint$/);

  await second.page.locator(`article[data-id="${approval.id}"]`).getByRole("button", { name: "Approve" }).click();
  await expect(second.page.getByRole("status")).toContainText("Approved: Send \"Winter sale\"");
  await expect(item(first.page, approval.id)).toHaveCount(0);
  await expect(first.page.getByRole("status")).toContainText(/“Send "Winter sale" to 4,812 recipients” was approved by Bo, (just now|\d+ s ago)\./);
  for (const person of [first, second]) {
    await expectSamePage(person.page);
    expect(person.problems, "errors in the browser").toEqual([]);
    await person.context.close();
  }
});

test("a person writing a denial is told when someone else decides, and keeps the text", async ({ browser, request }) => {
  const ana = newApprover("ana", "Ana");
  const bo = newApprover("bo", "Bo");
  const { agent, key } = newKey("race");
  const approval = await createApproval(request, key, { title: "Delete 300 stale customer rows" });
  const path = `/?agent=${agent}&selected=${approval.id}`;
  const [writer, decider] = [await personAt(browser, ana, path), await personAt(browser, bo, path)];

  const card = writer.page.locator(`article[data-id="${approval.id}"]`);
  await card.getByText("Deny…").click();
  await card.getByLabel("Reason (sent back to the agent)").fill("Half of these rows are still referenced by");
  await decider.page.locator(`article[data-id="${approval.id}"]`).getByRole("button", { name: "Approve" }).click();

  await expect(card.locator(".superseded")).toContainText(/This approval was approved by Bo, (just now|\d+ s ago)\./);
  await expect(card.getByLabel("Reason (sent back to the agent)")).toHaveValue("Half of these rows are still referenced by");
  await expect(card.getByRole("button", { name: "Send denial" })).toBeDisabled();
  expect((await status(request, key, approval.id)).status).toBe("approved");
  await card.getByRole("button", { name: "Next card" }).click();
  await expect(card).toHaveCount(0);
  for (const person of [writer, decider]) {
    expect(person.problems, "errors in the browser").toEqual([]);
    await person.context.close();
  }
});

test("offline, two approvals arrive; back online, both appear", async ({ browser, request }) => {
  const account = newAccount("offline");
  const person = await personAt(browser, account.email, "/");
  await markPage(person.page);
  await createApproval(request, account.key, { title: "Approval that was already there" });
  await expect(person.page.locator(".inbox-item")).toHaveCount(1);

  await person.context.setOffline(true);
  await expect(person.page.locator(".link-state")).toHaveAttribute("data-state", "offline");
  const one = await createApproval(request, account.key, { title: "Arrived while offline, one" });
  const two = await createApproval(request, account.key, { title: "Arrived while offline, two" });
  // Offline means offline: nothing arrives until the connection is back.
  await person.page.waitForTimeout(500);
  await expect(item(person.page, one.id)).toHaveCount(0);

  await person.context.setOffline(false);
  await expectLive(person.page);
  await expect(item(person.page, one.id)).toBeVisible();
  await expect(item(person.page, two.id)).toBeVisible();
  await expect(person.page).toHaveTitle("(3) Inbox · Holdpoint");
  await expectSamePage(person.page);
  expect(person.problems, "errors in the browser").toEqual([]);
  await person.context.close();
});

test("a dropped connection reconnects by itself and catches up on what it missed", async ({ page, request }) => {
  const account = newAccount("dropped");
  const sockets: WebSocketRoute[] = [];
  let letSecondThrough: () => void = () => {};
  const secondMayConnect = new Promise<void>((resolve) => (letSecondThrough = resolve));
  await page.routeWebSocket(/\/ws$/, async (socket) => {
    sockets.push(socket);
    // The second connection reaches the server only once the test says so.
    if (sockets.length === 2) await secondMayConnect;
    socket.connectToServer();
  });
  await logIn(page, account.email);
  await expectLive(page);

  await sockets[0].close({ code: 1001, reason: "going away" });
  await expect(page.locator(".link-state")).not.toHaveAttribute("data-state", "live");
  await expect.poll(() => sockets.length).toBe(2);
  const missed = await createApproval(request, account.key, { title: "Created while the connection was down" });
  letSecondThrough();
  await expectLive(page);
  await expect(item(page, missed.id)).toBeVisible();
});

test("the keyboard moves, approves with a, denies with d, typing and Enter", async ({ page, request }) => {
  const account = newAccount("keys");
  const titles = ["Refund $12 to order #1", "Refund $40 to order #2", "Refund $95 to order #3"];
  const ids: string[] = [];
  for (const title of titles) ids.push((await createApproval(request, account.key, { title })).id);
  await logIn(page, account.email);
  await expectLive(page);
  await expect(page).toHaveTitle("(3) Inbox · Holdpoint");
  const shown = page.locator("article.card");

  await expect(shown).toHaveAttribute("data-id", ids[0]);
  await page.keyboard.press("j");
  await expect(shown).toHaveAttribute("data-id", ids[1]);
  await expect(item(page, ids[1])).toBeFocused();
  await page.keyboard.press("k");
  await expect(shown).toHaveAttribute("data-id", ids[0]);

  await page.keyboard.press("a");
  await expect(page.getByRole("status")).toContainText(`Approved: ${titles[0]}`);
  await expect(shown).toHaveAttribute("data-id", ids[1]);
  await expect(item(page, ids[1])).toBeFocused();
  await expect(page).toHaveTitle("(2) Inbox · Holdpoint");

  await page.keyboard.press("d");
  const reason = shown.getByLabel("Reason (sent back to the agent)");
  await expect(reason).toBeFocused();
  await page.keyboard.type("Customer already got store credit.");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("status")).toContainText(`Denied: ${titles[1]}`);
  await expect(shown).toHaveAttribute("data-id", ids[2]);

  expect(await status(request, account.key, ids[0])).toMatchObject({ status: "approved" });
  expect(await status(request, account.key, ids[1])).toMatchObject({ status: "denied", reason: "Customer already got store credit." });
  expect(await status(request, account.key, ids[2])).toMatchObject({ status: "pending" });

  await page.keyboard.press("?");
  await expect(page.getByRole("dialog", { name: "Keyboard shortcuts" })).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(page.getByRole("dialog", { name: "Keyboard shortcuts" })).toHaveCount(0);
});

test("batch: select three and approve them; a partial failure is shown per card", async ({ page, request }) => {
  const account = newAccount("batch");
  // The server's live messages pass through the test, which can hold them
  // back, as a slow network would.
  let holding = false;
  const held: (string | Buffer)[] = [];
  let toPage: WebSocketRoute | undefined;
  await page.routeWebSocket(/\/ws$/, (socket) => {
    toPage = socket;
    const server = socket.connectToServer();
    server.onMessage((message) => (holding ? held.push(message) : socket.send(message)));
  });
  const ids: string[] = [];
  for (const n of [1, 2, 3, 4, 5]) ids.push((await createApproval(request, account.key, { title: `Pay invoice #${n}` })).id);
  await logIn(page, account.email);
  await expectLive(page);

  await page.keyboard.press("x");
  await page.keyboard.press("j");
  await page.keyboard.press("x");
  await page.getByRole("checkbox", { name: "Select “Pay invoice #3”" }).check();
  await expect(page.locator(".batch-count")).toHaveText("3 selected");
  await page.getByRole("button", { name: "Approve 3" }).click();
  await expect(page.getByRole("status")).toContainText("Approved 3.");
  for (const id of ids.slice(0, 3)) expect((await status(request, account.key, id)).status).toBe("approved");
  await expect(page.locator(".inbox-item")).toHaveCount(2);

  // #5 is withdrawn by its agent before the inbox hears of it; denying both
  // then denies #4 and reports #5 on its own.
  await page.getByRole("checkbox", { name: "Select “Pay invoice #4”" }).check();
  await page.getByRole("checkbox", { name: "Select “Pay invoice #5”" }).check();
  holding = true;
  const cancelled = await request.post(`/api/v1/approvals/${ids[4]}/cancel`, { headers: { Authorization: `Bearer ${account.key}` } });
  expect(cancelled.status()).toBe(200);
  await page.keyboard.press("D");
  await page.getByLabel("Reason for all 2 (sent back to each agent)").fill("Duplicate invoices.");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("status")).toContainText("Denied 1; 1 could not be decided.");
  await expect(page.locator(".batch-failures")).toContainText(/Pay invoice #5: This approval was already cancelled by the agent/);
  expect(await status(request, account.key, ids[3])).toMatchObject({ status: "denied", reason: "Duplicate invoices." });
  expect((await status(request, account.key, ids[4])).status).toBe("cancelled");

  // The held news arrives: the withdrawn card leaves too.
  holding = false;
  expect(held.length).toBeGreaterThan(0);
  for (const message of held.splice(0)) toPage!.send(message);
  await expect(page.locator(".inbox-item")).toHaveCount(0);
  await expect(page.getByRole("heading", { name: "Nothing waiting" })).toBeVisible();
});
