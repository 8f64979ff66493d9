// Preloaded into a measured process (`node --import ./bench/measure.mjs …`): at exit, writes its own CPU time,
// peak RSS and lifetime to $BENCH_USAGE_FILE. The measured program does not know it is measured.
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_USAGE_FILE;
if (file) {
  process.on('exit', () => {
    const u = process.resourceUsage();
    writeFileSync(
      file,
      JSON.stringify({
        cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000,
        maxRssMb: u.maxRSS / 1024,
        uptimeMs: process.uptime() * 1000,
      }),
    );
  });
}
