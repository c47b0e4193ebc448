import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync } from "node:fs";
export { rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, type APIRequestContext, type Locator, type Page } from "@playwright/test";
import { holdpointBin } from "../playwright.config";

const root = path.resolve(__dirname, "../..");
/** The build under test (playwright.config.ts), for its CLI. */
export const bin = path.resolve(root, holdpointBin);
// The same settings as the server under test (playwright.config.ts): the
// CLI checks webhook URLs against them.
const env = {
  ...process.env,
  HOLDPOINT_DATA_DIR: path.join(root, "target/e2e-data"),
  HOLDPOINT_LOG: "warn",
  HOLDPOINT_WEBHOOK_ALLOW_PRIVATE: "true",
};

export const PASSWORD = "correct horse battery";

export type Account = { email: string; key: string; agent: string };

function unique(label: string): string {
  return `${label}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
}

/** A fresh approver (with a display name, if given; or a viewer), made with the real CLI. */
export function newApprover(label: string, name?: string, role: "approver" | "viewer" = "approver"): string {
  const email = `${unique(label)}@example.com`;
  const args = ["admin", "create-user", "--email", email, "--password-stdin", "--role", role];
  if (name) args.push("--name", name);
  execFileSync(bin, args, { input: PASSWORD, env, cwd: root, stdio: "pipe" });
  return email;
}

/** A fresh API key, routed to `approver` or (without one) to anyone. */
export function newKey(label: string, approver?: string): { agent: string; key: string } {
  const agent = unique(`${label}-agent`);
  const args = ["admin", "create-key", "--name", agent];
  if (approver) args.push("--approver", approver);
  const key = execFileSync(bin, args, { env, cwd: root, stdio: "pipe" }).toString().trim();
  return { agent, key };
}

/** A fresh approver and an API key routed to them, made with the real CLI. */
export function newAccount(label: string): Account {
  const email = newApprover(label);
  return { email, ...newKey(label, email) };
}

/** A fresh admin, made with the real CLI. */
export function newAdmin(label: string): string {
  const email = `${label}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
  execFileSync(bin, ["admin", "create-user", "--email", email, "--password-stdin", "--admin"], { input: PASSWORD, env, cwd: root, stdio: "pipe" });
  return email;
}

/** An API key whose outcomes go to `url`; returns the key and the webhook
 *  signing secret, the two lines `create-key --webhook-url` prints. */
export function newKeyWithWebhook(label: string, url: string): { name: string; key: string; secret: string } {
  const name = `${label}-agent-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const [key, secret] = execFileSync(bin, ["admin", "create-key", "--name", name, "--webhook-url", url], { env, cwd: root, stdio: "pipe" })
    .toString()
    .trim()
    .split("\n")
    .map((line) => line.trim());
  return { name, key, secret };
}

/** Creates an approval through the agent API, as an agent would. */
export async function createApproval(request: APIRequestContext, key: string, body: Record<string, unknown>) {
  const response = await request.post("/api/v1/approvals", {
    headers: { Authorization: `Bearer ${key}` },
    data: body,
  });
  expect(response.status()).toBe(201);
  return (await response.json()) as { id: string; url: string; status: string; decided_by?: string | null };
}

export async function waitForHydration(page: Page) {
  await expect(page.locator("body[data-hydrated=true]")).toHaveCount(1);
}

/** Fills and sends the sign-in form (works with or without the WASM). */
export async function submitLogin(page: Page, email: string, password = PASSWORD) {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

export async function logIn(page: Page, email: string) {
  await page.goto("/login");
  await waitForHydration(page);
  await submitLogin(page, email);
  await expect(page.getByRole("link", { name: "History" })).toBeVisible();
}

/** A one-time first-admin link for `server`, from `holdpoint admin setup-link`. */
export function setupLink(server: { baseURL: string; dataDir: string }): string {
  return execFileSync(bin, ["admin", "setup-link"], {
    cwd: root,
    env: { ...process.env, HOLDPOINT_DATA_DIR: server.dataDir, HOLDPOINT_PUBLIC_URL: server.baseURL, HOLDPOINT_LOG: "warn" },
    encoding: "utf8",
  }).trim();
}

/** What a seeded history must show (bench/stats.rs `expected`). */
export type SeededFigures = {
  decisions: number;
  p50_ms: number;
  p90_ms: number;
  counts: Record<string, number>;
};

/** A new data directory with an admin (`admin@example.com`) and `rows`
 *  approvals over 90 days written by `holdpoint-bench --seed-only` (built
 *  by `cargo test`); returns the directory and the figures it must show. */
export function seededDataDir(rows: number): { dataDir: string; figures: SeededFigures } {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "holdpoint-e2e-"));
  const own = { ...env, HOLDPOINT_DATA_DIR: dataDir };
  execFileSync(bin, ["admin", "create-user", "--email", "admin@example.com", "--password-stdin", "--admin"], {
    input: PASSWORD,
    env: own,
    cwd: root,
    stdio: "pipe",
  });
  // The seeder is part of the test kit, built by `cargo test` only.
  const seeder = path.join(root, "target/debug/holdpoint-bench");
  const url = `sqlite://${path.join(dataDir, "holdpoint.db")}`;
  const printed = execFileSync(seeder, ["--seed-only", url, "--rows", String(rows)], { env: own, cwd: root });
  return { dataDir, figures: JSON.parse(printed.toString()) };
}

/** A separate holdpoint process on a free port with an empty database (or
 *  the one in `dataDir`); resolves with its base URL and everything it
 *  printed before listening. */
export async function startFreshServer(existingDataDir?: string): Promise<{
  baseURL: string;
  startup: string[];
  process: ChildProcess;
  dataDir: string;
}> {
  const dataDir = existingDataDir ?? mkdtempSync(path.join(os.tmpdir(), "holdpoint-e2e-"));
  const child = spawn(bin, ["serve", "--addr", "127.0.0.1:0"], {
    cwd: root,
    env: { ...process.env, HOLDPOINT_DATA_DIR: dataDir, HOLDPOINT_LOG: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const startup: string[] = [];
  let buffered = "";
  const baseURL = await new Promise<string>((resolve, reject) => {
    child.on("exit", (code) => reject(new Error(`holdpoint exited with ${code}`)));
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const listening = line.match(/^holdpoint listening on (\S+)/);
        if (listening) resolve(listening[1]);
        else startup.push(line);
      }
    });
  });
  return { baseURL, startup, process: child, dataDir };
}

export type Delivery = { headers: Record<string, string>; body: string };

/** A webhook receiver as an agent's developer would write one: plain Node
 *  HTTP, answering 200 to everything and keeping what it got. */
export async function startReceiver(): Promise<{ url: string; deliveries: Delivery[]; close: () => void }> {
  const deliveries: Delivery[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      deliveries.push({ headers: req.headers as Record<string, string>, body });
      res.writeHead(200, { "content-type": "text/plain" }).end("received");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks/holdpoint`, deliveries, close: () => server.close() };
}


/** Approves, or denies with a reason, the inbox card `card` (once it shows),
 *  and waits for it to leave the inbox. */
export async function decideCard(card: Locator, verdict: "approve" | { deny: string }) {
  await expect(card).toBeVisible({ timeout: 10_000 });
  if (verdict === "approve") {
    await card.getByRole("button", { name: "Approve" }).click();
  } else {
    await card.getByText("Deny…").click();
    await card.getByLabel("Reason (sent back to the agent)").fill(verdict.deny);
    await card.getByRole("button", { name: "Send denial" }).click();
  }
  await expect(card).toHaveCount(0);
}
