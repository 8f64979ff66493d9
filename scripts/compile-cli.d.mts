/** Types of scripts/compile-cli.mjs (plain JavaScript so `prepare` needs no TypeScript loader). */
export declare function compileCli(outDir?: string): Promise<{ outDir: string; files: number }>;
