// The README's TypeScript and Python snippets (end2end/tests/snippets/, which a
// Rust test holds equal to the README's blocks), run as printed against the
// server while a person decides in the browser; their webhook checks run
// on a real delivery, with the Standard Webhooks library of each language.
import { execFileSync, spawn } from "node:child_process";
import path from "node:path";
import { type Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { baseURL } from "../playwright.config";
import { decideCard, type Delivery, logIn, newAdmin, newKeyWithWebhook, startReceiver } from "./helpers";

const root = path.resolve(__dirname, "../..");
const python = path.join(root, ".venv/bin/python");
const snippets = path.join(root, "end2end/tests/snippets");

/** The inbox card of the approval with this title. */
function cardOf(page: Page, title: string) {
  return page.locator("article").filter({ has: page.getByRole("heading", { name: title }) });
}

async function delivered(receiver: { deliveries: Delivery[] }): Promise<Delivery> {
  await expect.poll(() => receiver.deliveries.length, { timeout: 10_000 }).toBeGreaterThan(0);
  return receiver.deliveries[0];
}

function signatureHeaders(delivery: Delivery): Record<string, string> {
  return {
    "webhook-id": delivery.headers["webhook-id"],
    "webhook-timestamp": delivery.headers["webhook-timestamp"],
    "webhook-signature": delivery.headers["webhook-signature"],
  };
}

test("the TypeScript snippet waits for a person's approval and verifies the webhook", async ({ page }) => {
  const receiver = await startReceiver();
  try {
    const admin = newAdmin("snippet-ts");
    const { key, secret } = newKeyWithWebhook("snippet-ts", receiver.url);
    process.env.HOLDPOINT_URL = baseURL;
    process.env.HOLDPOINT_API_KEY = key;
    process.env.HOLDPOINT_WEBHOOK_SECRET = secret;
    // Loaded now, with its environment set (it reads it as it loads).
    const { askAndWait, verifyWebhook } = require("./snippets/agent") as typeof import("./snippets/agent");

    const title = `Send the spring campaign to 4,812 people (${Date.now()})`;
    const asking = askAndWait({ title, data: { recipients: 4812 }, action: "email.send_campaign" });
    await logIn(page, admin);
    await decideCard(cardOf(page, title), "approve");
    const approval = await asking;
    expect(approval.status).toBe("approved");
    expect(approval.data).toEqual({ recipients: 4812 });

    const delivery = await delivered(receiver);
    const event = verifyWebhook(delivery.body, signatureHeaders(delivery));
    expect(event.type).toBe("approval.decided");
    expect(event.data.status).toBe("approved");
    expect(() => verifyWebhook(delivery.body.replace("approved", "denied"), signatureHeaders(delivery))).toThrow();
  } finally {
    receiver.close();
  }
});

test("the Python snippet waits for a person's denial and verifies the webhook", async ({ page }) => {
  const receiver = await startReceiver();
  try {
    const admin = newAdmin("snippet-py");
    const { key, secret } = newKeyWithWebhook("snippet-py", receiver.url);
    const env = { ...process.env, HOLDPOINT_URL: baseURL, HOLDPOINT_API_KEY: key, HOLDPOINT_WEBHOOK_SECRET: secret, PYTHONPATH: snippets };
    const title = `Delete 212 inactive accounts (${Date.now()})`;
    const request = JSON.stringify({ title, data: { accounts: 212 }, action: "db.delete_rows" });
    const child = spawn(python, ["-c", "import json, sys, agent; print(json.dumps(agent.ask_and_wait(json.loads(sys.argv[1]))))", request], { env });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (err += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));

    await logIn(page, admin);
    await decideCard(cardOf(page, title), { deny: "Half of them logged in last week." });
    expect(await exited, err).toBe(0);
    const approval = JSON.parse(out);
    expect(approval.status).toBe("denied");
    expect(approval.reason).toBe("Half of them logged in last week.");

    const delivery = await delivered(receiver);
    const verify = (body: string) =>
      execFileSync(python, ["-c", "import json, sys, agent; print(json.dumps(agent.verify_webhook(sys.stdin.buffer.read(), json.loads(sys.argv[1]))))", JSON.stringify(signatureHeaders(delivery))], {
        env,
        input: body,
        stdio: "pipe",
      }).toString();
    const event = JSON.parse(verify(delivery.body));
    expect(event.type).toBe("approval.decided");
    expect(event.data.reason).toBe("Half of them logged in last week.");
    expect(() => verify(delivery.body.replace("denied", "approved"))).toThrow();
  } finally {
    receiver.close();
  }
});
