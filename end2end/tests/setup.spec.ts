import { expect, test } from "./fixtures";
import { rmSync, startFreshServer, waitForHydration } from "./helpers";

test("the link printed at first start creates the first admin in the browser", async ({ page }) => {
  const server = await startFreshServer();
  try {
    const link = server.startup.join(" ").match(/(\S+\/setup\?token=\S+)/)?.[1];
    expect(link, `startup output: ${server.startup.join("\n")}`).toBeTruthy();
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
