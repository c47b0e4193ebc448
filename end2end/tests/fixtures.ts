import { expect, test as base } from "@playwright/test";

/**
 * `test` with a page that fails the test on any uncaught error or console
 * error: hydration problems and WASM panics surface there. Chromium's
 * "Failed to load resource" lines are left out: tests provoke 4xx answers
 * on purpose (a refused denial is a 422).
 */
export const test = base.extend({
  page: async ({ page }, use) => {
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
        problems.push(`console error: ${message.text()}`);
      }
    });
    await use(page);
    expect(problems, "errors in the browser").toEqual([]);
  },
});

export { expect };
