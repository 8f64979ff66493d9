// Preloaded into a child CLI run (`node --import`): prints the process's peak resident set size on exit.
// VmHWM, not getrusage's maxRSS: Linux carries maxRSS over exec from the forking parent (the test process,
// which may hold hundreds of MB of emulated objects), while VmHWM belongs to this program's memory alone.
import { readFileSync } from 'node:fs';

process.on('exit', () => {
  let kib = process.resourceUsage().maxRSS;
  try {
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (hwm) kib = Number(hwm);
  } catch {
    // Not Linux: maxRSS is all there is.
  }
  process.stderr.write(`peak-rss-kib=${kib}\n`);
});
