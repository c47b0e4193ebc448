import { expect, test as base, type Page } from "@playwright/test";

/**
 * Collects uncaught errors and console errors of a page: hydration problems
 * and WASM panics surface there. Chromium's "Failed to load resource" lines
 * are left out: tests provoke 4xx answers on purpose (a refused denial is a
 * 422).
 */
export function collectProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  return problems;
}

/** `test` with a page that fails the test on any problem `collectProblems` finds. */
export const test = base.extend({
  page: async ({ page }, use) => {
    const problems = collectProblems(page);
    await use(page);
    expect(problems, "errors in the browser").toEqual([]);
  },
});

export { expect };
