// Minified, pre-compressed copies of the static scripts and styles, run by `make` after `npm ci`.
//
// relbuild/static/<dir>/<name>.<ext> becomes relbuild/static/dist/<dir>/<name>.<hash>.<ext>, plus .gz (level 9)
// and .br (quality 11) next to it. <hash> is the first 10 hex digits of the SOURCE's SHA-256, the same
// version relbuild/pwa.py puts in static URLs: the app serves a built copy only when its name matches the
// source as it is now, so an edited source is served as written until the next build, never a stale build.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, extname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { transformSync } from "esbuild";

const STATIC = join(dirname(fileURLToPath(import.meta.url)), "..", "relbuild", "static");
const SOURCES = ["css", "js", "vendor"];
// The browsers the app supports; the minifier uses no syntax newer than theirs (JS and CSS).
const TARGET = ["chrome87", "edge88", "firefox78", "safari14", "ios14"];

const dist = join(STATIC, "dist");
const next = join(STATIC, "dist.new");
rmSync(next, { recursive: true, force: true });
let before = 0, after = 0, files = 0;
for (const dir of SOURCES) {
  let names;
  try {
    names = readdirSync(join(STATIC, dir));
  } catch {
    continue;  // no vendor/ without npm
  }
  for (const name of names.filter((n) => [".js", ".css"].includes(extname(n))).sort()) {
    const source = readFileSync(join(STATIC, dir, name));
    const hash = createHash("sha256").update(source).digest("hex").slice(0, 10);
    const { code } = transformSync(source.toString("utf8"), {
      loader: extname(name).slice(1), minify: true, target: TARGET, charset: "utf8",
    });
    const minified = Buffer.from(code);
    const out = join(next, dir, `${name.slice(0, -extname(name).length)}.${hash}${extname(name)}`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, minified);
    writeFileSync(`${out}.gz`, gzipSync(minified, { level: 9 }));
    writeFileSync(`${out}.br`, brotliCompressSync(minified, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: minified.length },
    }));
    before += source.length, after += minified.length, files += 1;
    console.log(`  ${relative(STATIC, out)}: ${source.length} -> ${minified.length} bytes`);
  }
}
// Swap the whole folder at once, so a running server sees the old build or the new one, never half of it.
rmSync(dist, { recursive: true, force: true });
renameSync(next, dist);
console.log(`static/dist: ${files} files minified, ${before} -> ${after} bytes (+ .gz and .br)`);
