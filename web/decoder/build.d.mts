export function contentSecurityPolicy(options: { scriptHash: string; styleHash: string; forMeta: boolean }): string;
export default function build(options: { root: string; outDir: string }): Promise<{ html: string; csp: string; bytes: number }>;
