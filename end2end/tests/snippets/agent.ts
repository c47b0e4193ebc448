import { Webhook } from "standardwebhooks";

const HOLDPOINT = process.env.HOLDPOINT_URL ?? "http://127.0.0.1:3000";
const auth = { Authorization: `Bearer ${process.env.HOLDPOINT_API_KEY}` };

type Approval = { id: string; status: string; reason: string | null; data: unknown; url: string };

/** Asks a person and waits for the decision: approved, denied (with a
 *  reason), expired or cancelled. */
export async function askAndWait(request: {
  title: string; body?: string; data?: object; action?: string; approver?: string;
}): Promise<Approval> {
  const created = await fetch(`${HOLDPOINT}/api/v1/approvals`, {
    method: "POST",
    headers: { ...auth, "Content-Type": "application/json" },
    body: JSON.stringify(request),
  });
  if (created.status !== 201) throw new Error(`Holdpoint refused: ${await created.text()}`);
  let approval: Approval = await created.json();
  while (approval.status === "pending") {
    const waited = await fetch(`${HOLDPOINT}/api/v1/approvals/${approval.id}/wait?timeout=60`, { headers: auth });
    if (!waited.ok) throw new Error(`Holdpoint answered ${waited.status}: ${await waited.text()}`);
    approval = await waited.json();
  }
  return approval;
}

/** In your webhook handler: the event if Holdpoint signed it; throws if not
 *  (or if it is more than five minutes old). */
export function verifyWebhook(rawBody: string, headers: Record<string, string>) {
  const secret = process.env.HOLDPOINT_WEBHOOK_SECRET!;
  return new Webhook(secret).verify(rawBody, headers) as { type: string; data: Approval };
}
