// An agent's calls through a client generated from Holdpoint's OpenAPI
// document: scripts/check-api-contract.sh writes holdpoint-api.d.ts with
// openapi-typescript from the live /api/v1/openapi.json, then compiles this
// file with tsc. A document a generator cannot use, or one whose operations,
// fields or statuses drift from what agents are told, fails the build here.
import createClient from "openapi-fetch";
import type { components, operations, paths } from "./holdpoint-api";

type Approval = components["schemas"]["Approval"];
type Status = Approval["status"];

// Every status of the agent contract is one the document allows, and no other.
const statuses: Record<Status, true> = {
  pending: true,
  approved: true,
  denied: true,
  expired: true,
  cancelled: true,
};

// Each operation is reachable by its own id.
type OperationIds = keyof operations;
const operationIds: OperationIds[] = [
  "createApproval",
  "getApproval",
  "waitForApproval",
  "listApprovals",
  "cancelApproval",
  "listDecisions",
];

export async function refundWithApproval(baseUrl: string, key: string): Promise<boolean> {
  const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${key}` } });
  const created = await client.POST("/api/v1/approvals", {
    params: { header: { "Idempotency-Key": "refund-8821" } },
    body: {
      title: "Refund $240 to Lila Chen on order #8821",
      body: "<p>Order <b>#8821</b>: damaged in transit.</p>",
      data: { order: 8821, amount_cents: 24000 },
      action: "billing.refund",
      expires_in: 3600,
    },
  });
  if (created.error) {
    // A problem: its stable code says what went wrong.
    throw new Error(`${created.error.code}: ${created.error.detail}`);
  }
  let approval: Approval = created.data;
  while (approval.status === "pending") {
    const waited = await client.GET("/api/v1/approvals/{id}/wait", {
      params: { path: { id: approval.id }, query: { timeout: 60 } },
    });
    if (waited.error) throw new Error(waited.error.code);
    approval = waited.data;
  }
  if (approval.status === "denied") console.log(`denied: ${approval.reason}`);
  return approval.status === "approved";
}

export const checked = { statuses, operationIds };
