import { expect, test as base, type Browser, type BrowserContext, type Page } from "@playwright/test";

/**
 * Collects uncaught errors and console errors of a page: hydration problems
 * and WASM panics surface there. Chromium's "Failed to load resource" lines
 * are left out for the app's answers (tests provoke 4xx answers on purpose:
 * a refused denial is a 422), never for the built files under /pkg/ or the
 * icon: a missing script, WASM chunk or stylesheet is a broken page.
 */
export function collectProblems(page: Page, problems: string[] = []): string[] {
  page.on("pageerror", (error) => problems.push(`${page.url()}: page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const resource = message.location().url;
    const provoked =
      message.text().startsWith("Failed to load resource") &&
      !/\/pkg\/|\/favicon\.ico/.test(resource);
    if (!provoked) problems.push(`${page.url()}: console error: ${message.text()} (${resource})`);
  });
  return problems;
}

/** Watches every page a context has and will open. */
function watchContext(context: BrowserContext, problems: string[]) {
  for (const page of context.pages()) collectProblems(page, problems);
  context.on("page", (page) => collectProblems(page, problems));
}

/**
 * Makes the contexts a test opens itself (`browser.newContext()`, a second
 * person in another context) watched like the default one, for the length
 * of the test.
 */
function watchNewContexts(browser: Browser, problems: string[]): () => void {
  const newContext = browser.newContext;
  const newPage = browser.newPage;
  browser.newContext = async (...args: Parameters<Browser["newContext"]>) => {
    const context = await newContext.apply(browser, args);
    watchContext(context, problems);
    return context;
  };
  browser.newPage = async (...args: Parameters<Browser["newPage"]>) => {
    const page = await newPage.apply(browser, args);
    collectProblems(page, problems);
    return page;
  };
  return () => {
    browser.newContext = newContext;
    browser.newPage = newPage;
  };
}

/**
 * `test` that fails when any page the test opened, in any context, logged
 * an uncaught error or a console error (`collectProblems`). Every spec
 * imports `test` from here: no page may log an error.
 */
export const test = base.extend<{ browserProblems: string[] }>({
  browserProblems: [
    async ({ browser, context }, use) => {
      const problems: string[] = [];
      watchContext(context, problems);
      const restore = watchNewContexts(browser, problems);
      try {
        await use(problems);
      } finally {
        restore();
      }
      expect(problems, "errors in the browser").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
