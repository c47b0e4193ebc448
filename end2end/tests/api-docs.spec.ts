// The API reference at /api/docs: public, drawn from the OpenAPI document
// the server answers at /api/v1/openapi.json, loading nothing from elsewhere.
import path from "node:path";
import { expect, test } from "./fixtures";
import { baseURL } from "../playwright.config";
import { waitForHydration } from "./helpers";

const screenshots = path.join(__dirname, "..", "screenshots");

test("the API reference shows every endpoint of the OpenAPI document with its problem codes", async ({ page }) => {
  const document = await (await fetch(`${baseURL}/api/v1/openapi.json`)).json();
  expect(document.openapi).toBe("3.1.0");
  const operations = Object.entries(document.paths).flatMap(([path, item]) =>
    Object.keys(item as object).map((method) => `${method.toUpperCase()} ${path}`),
  );
  expect(operations.length).toBeGreaterThanOrEqual(6);

  const outside: string[] = [];
  page.on("request", (request) => {
    if (!request.url().startsWith(baseURL)) outside.push(request.url());
  });
  await page.goto(`${baseURL}/api/docs`);
  await waitForHydration(page);
  await expect(page.getByRole("heading", { name: /Holdpoint agent API/ })).toBeVisible();

  const contents = page.getByRole("navigation", { name: "Endpoints" });
  for (const operation of operations) {
    await expect(contents.getByRole("link", { name: operation, exact: true })).toBeVisible();
  }

  // Following a contents link shows that endpoint, its parameters and its answers.
  await contents.getByRole("link", { name: "POST /api/v1/approvals", exact: true }).click();
  await expect(page).toHaveURL(/#post-api-v1-approvals$/);
  const create = page.locator("#post-api-v1-approvals");
  await expect(create.getByText("Ask a person to approve an action.")).toBeVisible();
  await expect(create.getByRole("cell", { name: "Idempotency-Key", exact: true })).toBeVisible();
  const invalid = create.getByRole("row").filter({ has: page.getByRole("cell", { name: "422", exact: true }) });
  await expect(invalid.getByText("invalid_title", { exact: true })).toBeVisible();
  await expect(invalid.getByText("unknown_approver", { exact: true })).toBeVisible();

  // Objects link to their fields.
  await create.getByRole("link", { name: "CreateApprovalBody" }).click();
  const body = page.locator("#schema-CreateApprovalBody");
  await expect(body.getByRole("row").filter({ hasText: "title" }).first()).toContainText("required");

  await page.goto(`${baseURL}/api/docs`);
  await waitForHydration(page);
  await page.screenshot({ path: path.join(screenshots, "api-docs.png"), fullPage: false });
  expect(outside).toEqual([]);
});
