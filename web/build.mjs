// Builds the web interface into web/dist: bundles src/main.ts and src/style.css with
// esbuild (minified, file names carrying a content hash so the server can let browsers
// cache them for good), then writes index.html naming those files and copies public/.
// Type checking is `tsc -p web` (run by `npm run build:web` before this).

import { build } from "esbuild";
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const web = dirname(fileURLToPath(import.meta.url));
const dist = join(web, "dist");
const assets = join(dist, "assets");

await rm(dist, { recursive: true, force: true });
await mkdir(assets, { recursive: true });

const result = await build({
  entryPoints: { app: join(web, "src/main.ts"), style: join(web, "src/style.css") },
  outdir: assets,
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022", "chrome100", "firefox100", "safari15"],
  metafile: true,
  logLevel: "warning",
});

const outputs = Object.entries(result.metafile.outputs);
const named = (entry) => {
  const found = outputs.find(([, o]) => o.entryPoint && o.entryPoint.endsWith(entry));
  if (!found) throw new Error(`no output for ${entry}`);
  return basename(found[0]);
};
const page = (await readFile(join(web, "index.html"), "utf8"))
  .replace("{{app}}", named("src/main.ts"))
  .replace("{{style}}", named("src/style.css"));
await writeFile(join(dist, "index.html"), page);
await cp(join(web, "public"), assets, { recursive: true });

const size = outputs.reduce((n, [, o]) => n + o.bytes, 0);
console.log(`web/dist: ${outputs.length} bundled files, ${(size / 1024).toFixed(0)} KiB`);
