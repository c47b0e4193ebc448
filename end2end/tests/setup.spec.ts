import { expect, test } from "./fixtures";
import { rmSync, setupLink, startFreshServer, waitForHydration } from "./helpers";

test("the link of `holdpoint admin setup-link` creates the first admin in the browser", async ({ page }) => {
  const server = await startFreshServer();
  try {
    // Not a terminal: the server keeps the link (a credential) out of its output.
    expect(server.startup.join("\n")).not.toContain("/setup?token=");
    const link = setupLink(server);
    expect(link).toContain(`${server.baseURL}/setup?token=`);
    await page.goto(link!);
    await waitForHydration(page);
    await page.getByLabel("Email").fill("founder@example.com");
    await page.getByLabel("Password (at least 8 characters)").fill("short");
    // The browser's own minlength check would stop a short password; bypass it
    // to see the server's message next to the field.
    await page.locator("form").evaluate((form) => form.setAttribute("novalidate", ""));
    await page.getByRole("button", { name: "Create admin and sign in" }).click();
    await expect(page.getByRole("alert")).toContainText("at least 8 characters");

    await page.getByLabel("Password (at least 8 characters)").fill("a long enough password");
    await page.getByRole("button", { name: "Create admin and sign in" }).click();
    await expect(page.getByRole("heading", { name: "Nothing waiting" })).toBeVisible();
    await expect(page.getByText("founder", { exact: true })).toBeVisible();

    // The link is spent.
    await page.goto(link!);
    await waitForHydration(page);
    await page.getByLabel("Email").fill("intruder@example.com");
    await page.getByLabel("Password (at least 8 characters)").fill("another long password");
    await page.getByRole("button", { name: "Create admin and sign in" }).click();
    await expect(page.getByRole("alert")).toContainText("not valid");
  } finally {
    server.process.kill();
    rmSync(server.dataDir, { recursive: true, force: true });
  }
});
