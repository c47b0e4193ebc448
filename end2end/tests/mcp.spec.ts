// An agent talks to Holdpoint over MCP through the official MCP Python SDK
// (tests/contract/mcp_conversation.py), over Streamable HTTP and over stdio
// (`holdpoint mcp`), while a person decides in the browser.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { type Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { baseURL } from "../playwright.config";
import { bin as holdpoint, decideCard, logIn, newAccount } from "./helpers";

const root = path.resolve(__dirname, "../..");
const python = path.join(root, ".venv/bin/python");
const script = path.join(root, "tests/contract/mcp_conversation.py");

type Event = { event: string; [field: string]: any };

/** The conversation as a child process; its events as they are printed. */
class Conversation {
  readonly events: Event[] = [];
  private readonly child: ChildProcess;
  private stderr = "";
  private readonly exited: Promise<number | null>;

  constructor(scenario: string, key: string, transport: "http" | "stdio", title: string) {
    const args = [script, scenario, "--url", baseURL, "--key", key, "--title", title];
    if (transport === "stdio") args.push("--stdio", holdpoint);
    this.child = spawn(python, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let pending = "";
    this.child.stdout!.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) if (line.trim()) this.events.push(JSON.parse(line));
    });
    this.child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on("exit", resolve));
  }

  /** The first event called `name`, once printed. */
  async next(name: string, timeout = 20_000): Promise<Event> {
    await expect
      .poll(() => this.events.find((e) => e.event === name || e.event === "failed"), { timeout, message: `waiting for ${name}; stderr: ${this.stderr}` })
      .toBeTruthy();
    const found = this.events.find((e) => e.event === name || e.event === "failed")!;
    expect(found.event, JSON.stringify(found)).toBe(name);
    return found;
  }

  async finished(): Promise<void> {
    const code = await this.exited;
    expect(code, `events: ${JSON.stringify(this.events)}; stderr: ${this.stderr}`).toBe(0);
  }

  stop() {
    this.child.kill();
  }
}

/** The inbox card of the approval with this id. */
function cardOf(page: Page, id: string) {
  return page.locator(`article[data-id="${id}"]`);
}

for (const transport of ["http", "stdio"] as const) {
  test.describe(`MCP over ${transport}`, () => {
    test("a client of the tasks extension gets a task that completes when a person approves in the browser", async ({ page }) => {
      const account = newAccount(`mcp-task-${transport}`);
      const conversation = new Conversation("task", account.key, transport, `Send the spring campaign (${transport}, task)`);
      try {
        const task = await conversation.next("task");
        expect(task.id).toMatch(/^apr_/);
        expect(task.status).toBe("working");
        await logIn(page, account.email);
        // The preview was sanitized on the way in, as for the REST API.
        const card = cardOf(page, task.id);
        await expect(card.getByText("Spring is here")).toBeVisible({ timeout: 10_000 });
        await decideCard(card, "approve");
        const done = await conversation.next("task_done");
        expect(done.status).toBe("completed");
        const result = await conversation.next("result");
        expect(result.status).toBe("approved");
        expect(result.is_error).toBeFalsy();
        expect(result.text).toContain("APPROVED by " + account.email);
        expect(result.data).toEqual({ recipients: 4812, list: "spring-2026" });
        await conversation.finished();
      } finally {
        conversation.stop();
      }
    });

    test("a client without tasks waits across calls, hears progress, and is told a denial in plain words", async ({ page }) => {
      test.setTimeout(90_000);
      const account = newAccount(`mcp-waits-${transport}`);
      const conversation = new Conversation("waits", account.key, transport, `Send the spring campaign (${transport}, waits)`);
      try {
        const pending = await conversation.next("pending");
        expect(pending.status).toBe("pending");
        expect(pending.text).toContain("wait_for_approval");
        const first = await conversation.next("waited");
        expect(first.status).toBe("pending");
        // The second call waits longer than 15 s: a progress notification comes.
        const progress = await conversation.next("progress", 30_000);
        expect(progress.message).toContain("still waiting for a person");
        await logIn(page, account.email);
        await decideCard(cardOf(page, pending.id), { deny: "The list has not been cleaned since March." });
        await expect
          .poll(() => conversation.events.filter((e) => e.event === "waited").at(-1)?.status, { timeout: 10_000 })
          .toBe("denied");
        const denied = conversation.events.filter((e) => e.event === "waited").at(-1)!;
        expect(denied.is_error).toBeFalsy();
        expect(denied.text).toContain("DENIED by " + account.email);
        expect(denied.text).toContain("Do not do");
        expect(denied.text).toContain("The list has not been cleaned since March.");
        await conversation.finished();
      } finally {
        conversation.stop();
      }
    });

    test("a wait the client gives up on leaves the request pending, and a wrong key is refused", async () => {
      const account = newAccount(`mcp-cancel-${transport}`);
      const cancel = new Conversation("cancel", account.key, transport, `Delete 212 rows (${transport})`);
      try {
        expect((await cancel.next("gave_up")).error).toBeTruthy();
        const after = await cancel.next("after");
        expect(after.status).toBe("pending");
        await cancel.finished();
      } finally {
        cancel.stop();
      }
      const state = await fetch(`${baseURL}/api/v1/approvals/${cancel.events.find((e) => e.event === "after")!.id}`, {
        headers: { Authorization: `Bearer ${account.key}` },
      });
      expect((await state.json()).status).toBe("pending");

      const wrong = new Conversation("wrong-key", account.key, transport, "unused");
      try {
        const refusal = transport === "http" ? await wrong.next("refused") : await wrong.next("answered");
        if (transport === "http") {
          expect(refusal.statuses).toContain(401);
        } else {
          expect(refusal.is_error).toBe(true);
          expect(refusal.text).toContain("invalid_api_key");
        }
        await wrong.finished();
      } finally {
        wrong.stop();
      }
    });
  });
}
