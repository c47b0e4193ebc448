// The agent code from the article Holdpoint comes from ("Wiring it into agent
// code"), unchanged but for its base URL: it must create approvals here and
// branch on the outcome. Until webhooks land, `awaitWebhookOutcome` (which the
// article leaves to the reader) is implemented with the long-poll API.
import { type Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { baseURL } from "../playwright.config";
import { logIn, newAccount, waitForHydration } from "./helpers";

/** Reloads the inbox until the agent's request (sent concurrently) is there. */
async function showCard(page: Page, title: string) {
  await expect(async () => {
    await page.reload();
    await waitForHydration(page);
    await expect(page.getByRole("heading", { name: title })).toBeVisible({ timeout: 500 });
  }).toPass({ timeout: 10_000 });
}

type ApprovalOutcome = { status: "approved" } | { status: "denied"; reason: string };

async function awaitWebhookOutcome(id: string): Promise<ApprovalOutcome> {
  for (;;) {
    const res = await fetch(`${baseURL}/api/v1/approvals/${id}/wait?timeout=60`, {
      headers: { Authorization: `Bearer ${process.env.FA_API_KEY}` },
    });
    const approval = await res.json();
    if (approval.status !== "pending") return approval;
  }
}

// ---- from the article, with only the base URL changed ----
async function requestApproval(params: {
  title: string;
  bodyHtml: string;
  data: Record<string, unknown>;
}): Promise<ApprovalOutcome> {
  const res = await fetch(`${baseURL}/api/v1/approvals`, {
    method: "POST",
    headers: {
      "Authorization": `Bearer ${process.env.FA_API_KEY}`,
      "Content-Type": "application/json",
    },
    body: JSON.stringify({
      title: params.title,
      body: params.bodyHtml,
      data: params.data,
    }),
  });
  if (!res.ok) throw new Error(`approval submit failed: ${res.status}`);
  const { id } = await res.json();
  return awaitWebhookOutcome(id); // resolves when your webhook handler receives the decision
}
// ------------------------------------------------------------

type Campaign = { id: string; subject: string; recipients: string[] };

test("the article's agent sends only after a yes, and logs the reason of a no", async ({ page }) => {
  const account = newAccount("article");
  process.env.FA_API_KEY = account.key;
  const sent: string[] = [];
  const aborted: Array<[string, string]> = [];

  async function sendCampaign(campaign: Campaign) {
    const outcome = await requestApproval({
      title: `Send "${campaign.subject}" to ${campaign.recipients.length} recipients`,
      bodyHtml: `<h2>${campaign.subject}</h2><p>Hello from the spring sale.</p>`,
      data: { campaignId: campaign.id, recipientCount: campaign.recipients.length },
    });
    if (outcome.status === "denied") {
      aborted.push([campaign.id, outcome.reason]);
      return;
    }
    sent.push(campaign.id);
  }

  const recipients = Array.from({ length: 3 }, (_, n) => `r${n}@example.com`);
  const first = sendCampaign({ id: "cmp_1", subject: "Spring sale", recipients });
  await logIn(page, account.email);
  await showCard(page, 'Send "Spring sale" to 3 recipients');
  await page.getByRole("button", { name: "Approve" }).click();
  await first;
  expect(sent).toEqual(["cmp_1"]);

  const second = sendCampaign({ id: "cmp_2", subject: "Spring sale, again", recipients });
  await showCard(page, 'Send "Spring sale, again" to 3 recipients');
  await page.getByText("Deny…").click();
  await page.getByLabel("Reason (sent back to the agent)").fill("Already sent today.");
  await page.getByRole("button", { name: "Send denial" }).click();
  await second;
  expect(sent).toEqual(["cmp_1"]);
  expect(aborted).toEqual([["cmp_2", "Already sent today."]]);
});
