// Preloaded into a child CLI run (`node --import`): prints the process's peak resident set size on exit.
process.on('exit', () => process.stderr.write(`peak-rss-kib=${process.resourceUsage().maxRSS}\n`));
