import { expect, test } from "./fixtures";
import { Webhook } from "standardwebhooks";
import { createApproval, logIn, newAdmin, newKeyWithWebhook, startReceiver, waitForHydration, type Delivery } from "./helpers";

/** Verifies with the npm `standardwebhooks` package, as a receiver in the
 *  wild would; throws on a bad signature or a stale timestamp. */
function verified(secret: string, delivery: Delivery): any {
  return new Webhook(secret).verify(delivery.body, {
    "webhook-id": delivery.headers["webhook-id"],
    "webhook-timestamp": delivery.headers["webhook-timestamp"],
    "webhook-signature": delivery.headers["webhook-signature"],
  });
}

test("decisions arrive as webhooks that the standardwebhooks package verifies, and the Webhooks page shows them", async ({ page, request }) => {
  const receiver = await startReceiver();
  try {
    const admin = newAdmin("hooks");
    const { name, key, secret } = newKeyWithWebhook("hooks", receiver.url);
    const approve = await createApproval(request, key, {
      title: "Send the spring campaign",
      body: "<p>To <strong>4,812</strong> recipients.</p>",
      data: { campaignId: "cmp_123", recipientCount: 4812 },
      action: "email.send_campaign",
    });
    const deny = await createApproval(request, key, { title: "Refund $120", data: { amount: 120 }, action: "stripe.refund" });

    await logIn(page, admin);
    await page.goto(approve.url);
    // Clicked before the WASM takes over, the button posts the form the
    // old-fashioned way: the decision lands, but no notice is shown.
    await waitForHydration(page);
    await page.locator(`article[data-id="${approve.id}"]`).getByRole("button", { name: "Approve" }).click();
    await expect(page.getByRole("status")).toContainText("approved");
    await page.goto(deny.url);
    await waitForHydration(page);
    const card = page.locator(`article[data-id="${deny.id}"]`);
    await card.getByText("Deny…").click();
    await card.getByLabel("Reason (sent back to the agent)").fill("Already refunded last week.");
    await card.getByRole("button", { name: "Send denial" }).click();
    await expect(page.getByRole("status")).toContainText("denied");

    await expect.poll(() => receiver.deliveries.length, { timeout: 10_000 }).toBe(2);
    const payloads = receiver.deliveries.map((delivery) => verified(secret, delivery));
    const byId = Object.fromEntries(payloads.map((p) => [p.data.id, p]));
    expect(byId[approve.id].type).toBe("approval.decided");
    expect(byId[approve.id].data.status).toBe("approved");
    expect(byId[approve.id].data.decided_by).toBe(admin);
    expect(byId[approve.id].data.data.recipientCount).toBe(4812);
    expect(byId[deny.id].data.status).toBe("denied");
    expect(byId[deny.id].data.reason).toBe("Already refunded last week.");
    // A tampered body does not verify.
    expect(() => verified(secret, { ...receiver.deliveries[0], body: receiver.deliveries[0].body.replace("approved", "denied") })).toThrow();

    // The approval's page shows its delivery.
    // (The receiver has its copy a moment before the attempt is logged.)
    await expect(async () => {
      await page.goto(approve.url);
      await expect(page.getByRole("region", { name: "Webhook" })).toContainText("delivered", { timeout: 1_000 });
    }).toPass({ timeout: 10_000 });
    await expect(page.getByRole("region", { name: "Webhook" })).toContainText("HTTP 200");

    // The Webhooks page: health, the log, a test event, a rotation.
    await page.getByRole("link", { name: "Webhooks" }).click();
    await waitForHydration(page);
    const endpoint = page.locator(`article[data-key="${name}"]`);
    await expect(endpoint).toContainText("healthy");
    await expect(endpoint).toContainText(receiver.url);
    await expect(page.locator("tr[data-message]").filter({ hasText: name })).toHaveCount(2);
    await endpoint.getByRole("button", { name: "Send test event" }).click();
    await expect.poll(() => receiver.deliveries.length, { timeout: 10_000 }).toBe(3);
    expect(verified(secret, receiver.deliveries[2]).type).toBe("webhook.test");

    await endpoint.getByRole("button", { name: "Rotate secret" }).click();
    const newSecret = (await page.locator(".callout code.secret").textContent())!.trim();
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(secret);
    await expect(endpoint).toContainText("Old secret still signs until");
    await endpoint.getByRole("button", { name: "Send test event" }).click();
    await expect.poll(() => receiver.deliveries.length, { timeout: 10_000 }).toBe(4);
    // During the overlap both secrets verify: receivers can switch over.
    expect(verified(newSecret, receiver.deliveries[3]).type).toBe("webhook.test");
    expect(verified(secret, receiver.deliveries[3]).type).toBe("webhook.test");

    // Redeliver by hand: the same webhook-id again (receivers deduplicate on it).
    // The row is found by the id the receiver saw, not by its place in a
    // table that re-renders as messages arrive.
    const messageId = receiver.deliveries.find((delivery) => verified(secret, delivery).data?.id === approve.id)!.headers["webhook-id"];
    const row = page.locator(`tr[data-message="${messageId}"]`);
    await expect(row).toContainText("approval.decided");
    await row.getByRole("button", { name: "Redeliver" }).click();
    await expect.poll(() => receiver.deliveries.length, { timeout: 10_000 }).toBe(5);
    expect(receiver.deliveries[4].headers["webhook-id"]).toBe(messageId);
    verified(newSecret, receiver.deliveries[4]);
  } finally {
    receiver.close();
  }
});

test("a bad webhook URL gets a clear error next to its field, and the endpoint keeps its URL", async ({ page }) => {
  const admin = newAdmin("hooks-bad");
  const { name } = newKeyWithWebhook("hooks-bad", "http://127.0.0.1:9/ok");
  await logIn(page, admin);
  await page.goto("/admin/webhooks");
  await waitForHydration(page);
  const endpoint = page.locator(`article[data-key="${name}"]`);
  await endpoint.getByLabel("Endpoint URL").fill("ftp://example.com/hook");
  await endpoint.getByRole("button", { name: "Change URL" }).click();
  await expect(endpoint.getByRole("alert").first()).toContainText("http:// or https://");
  await expect(endpoint).toContainText("http://127.0.0.1:9/ok");
});
