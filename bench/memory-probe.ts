/**
 * Preloaded into a server to see where its memory goes, without touching its code:
 *
 *   BENCH_VIGIL_NODE_OPTIONS="--import=./bench/memory-probe.ts" npm run bench -- refresh
 *
 * Every second, appends process.memoryUsage() and the size of each V8 heap space (MB) as one
 * JSON line to /tmp/vigil-memory/<pid>.jsonl; every ten seconds, rewrites <pid>.smaps.json:
 * resident MB by mapping (file, [heap], or anonymous by size), to tell V8 from malloc.
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';

const dir = '/tmp/vigil-memory';
mkdirSync(dir, { recursive: true });
const file = `${dir}/${process.pid}.jsonl`;
const mb = (bytes: number) => Math.round(bytes / 1048576);

setInterval(() => {
  const m = process.memoryUsage();
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name.replace(/_space$/, ''), mb(s.space_size)]));
  appendFileSync(file, `${JSON.stringify({ t: Date.now(), argv: process.argv[1], rss: mb(m.rss), heapTotal: mb(m.heapTotal), heapUsed: mb(m.heapUsed), external: mb(m.external), arrayBuffers: mb(m.arrayBuffers), spaces })}\n`);
}, 1000).unref();

/** Resident memory by mapping: files by name, anonymous mappings grouped by their size. */
function residentByMapping(): Record<string, number> {
  const out: Record<string, number> = {};
  let name = '';
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      const sizeMb = (parseInt(header[2], 16) - parseInt(header[1], 16)) / 1048576;
      name = header[3] || `[anon ${sizeMb >= 1 ? `${Math.round(sizeMb)} MB` : '< 1 MB'}]`;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[name] = (out[name] ?? 0) + Number(rss[1]) / 1024;
  }
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v >= 1).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round(v)]));
}

setInterval(() => writeFileSync(`${dir}/${process.pid}.smaps.json`, `${JSON.stringify({ t: Date.now(), argv: process.argv[1], resident: residentByMapping() }, null, 1)}\n`), 10_000).unref();
