// Support for the browser tests: the real `vitalis` binary on a temporary data directory
// and free ports, a Chromium driven by playwright-core, and checks every page must pass
// (no console errors, nothing wider than the screen).

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
export const SCREENSHOTS = join(ROOT, "target/web-screenshots");
export const CHROMIUM = process.env.VITALIS_CHROMIUM ?? "/usr/bin/chromium";

/** The `vitalis` binary: $VITALIS_BIN, or target/debug/vitalis built (or brought up to
 * date) with cargo, so that it embeds the web/dist just built. */
export function vitalisBinary() {
  if (process.env.VITALIS_BIN) return process.env.VITALIS_BIN;
  const built = spawnSync("cargo", ["build", "--locked", "-p", "vitalis-cli", "--bin", "vitalis"], {
    cwd: ROOT,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (built.status !== 0) throw new Error("cargo build of vitalis failed");
  return join(ROOT, "target/debug/vitalis");
}

function run(bin, args) {
  const out = spawnSync(bin, args, { encoding: "utf8", env: { ...process.env, RUST_LOG: "warn" } });
  if (out.status !== 0) throw new Error(`vitalis ${args.join(" ")}: ${out.stdout}${out.stderr}`);
  return out.stdout;
}

/** The value of a `key=value` line. */
export function field(output, key) {
  const line = output.split("\n").find((l) => l.startsWith(`${key}=`));
  if (!line) throw new Error(`no ${key} in ${output}`);
  return line.slice(key.length + 1);
}

/** A running `vitalis serve` with its supervisor; `stop()` ends it and removes its data. */
export async function startServer() {
  const bin = vitalisBinary();
  const dataDir = mkdtempSync(join(tmpdir(), "vitalis-web-"));
  const supervisor = run(bin, ["admin", "create", "--role", "supervisor", "--email", "regulator@health.example", "--name", "Health Authority", "--data-dir", dataDir]);
  const child = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--chain-listen", "127.0.0.1:0", "--data-dir", dataDir], {
    env: { ...process.env, RUST_LOG: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("vitalis serve did not start in 60 s")), 60_000);
    child.once("exit", (code) => reject(new Error(`vitalis serve exited with ${code}`)));
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolve(line.trim().split(" ").pop());
    });
  });
  lines.on("line", () => {});
  return {
    url,
    supervisor: { email: field(supervisor, "email"), password: field(supervisor, "password") },
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((resolve) => {
          const timer = setTimeout(() => {
            child.kill("SIGKILL");
            resolve();
          }, 10_000);
          child.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A JSON call of the API from the test itself (devices, institution sign-up). */
export async function api(base, method, path, body, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${base}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : undefined;
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return parsed;
}

export function screenshotsDir() {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return SCREENSHOTS;
}

/** Collects console errors and uncaught exceptions of a page. `allow(pattern, fn)` lets
 * errors matching `pattern` happen while `fn` runs (a refusal the test provokes on
 * purpose logs "Failed to load resource: … 403"); anything else is a failure. */
export function watchConsole(page) {
  const errors = [];
  let allowed = null;
  const note = (text) => {
    if (allowed && allowed.test(text)) return;
    errors.push(`${page.url()}: ${text}`);
  };
  page.on("console", (m) => {
    if (m.type() === "error") note(`${m.text()} ${m.location()?.url ?? ""}`);
  });
  page.on("pageerror", (e) => note(`uncaught: ${e.message}`));
  return {
    errors,
    async allow(pattern, fn) {
      allowed = pattern;
      try {
        return await fn();
      } finally {
        allowed = null;
      }
    },
  };
}

/** Fails when the page is wider than its viewport (it would scroll sideways). */
export async function fitsWidth(page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
}

export const chromiumPresent = () => existsSync(CHROMIUM);
