import { defineConfig } from "@playwright/test";

// The server under test is what users run: the release build that
// `scripts/run.sh` serves (`cargo leptos build --release --split
// --precompress`: its WASM, hashed file names and brotli copies), on its own
// port and a fresh data directory, started from the repository root so it
// finds target/site. HOLDPOINT_E2E_BIN names another build.
const port = Number(process.env.HOLDPOINT_E2E_PORT ?? 3210);
export const baseURL = `http://127.0.0.1:${port}`;
/** The holdpoint binary under test (its CLI too), relative to the repository root. */
export const holdpointBin = process.env.HOLDPOINT_E2E_BIN ?? "target/release/holdpoint";

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 5_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  outputDir: "./test-results",
  use: {
    baseURL,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  webServer: {
    command: `rm -rf target/e2e-data && exec ${holdpointBin} serve --addr 127.0.0.1:${port}`,
    cwd: "..",
    // Webhook receivers in the tests listen on 127.0.0.1.
    // Suggestions after 3 approvals by one person on any day, sampling
    // every one: policies.spec.ts sees a suggestion and a sample at once.
    env: {
      HOLDPOINT_DATA_DIR: "target/e2e-data",
      HOLDPOINT_LOG: "warn",
      HOLDPOINT_WEBHOOK_ALLOW_PRIVATE: "true",
      HOLDPOINT_SUGGEST_STREAK: "3",
      HOLDPOINT_SUGGEST_DAYS: "0",
      HOLDPOINT_SUGGEST_APPROVERS: "1",
      HOLDPOINT_SUGGEST_SAMPLE_PERCENT: "100",
    },
    url: `${baseURL}/login`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore",
    stderr: "pipe",
    gracefulShutdown: { signal: "SIGINT", timeout: 10_000 },
  },
});
