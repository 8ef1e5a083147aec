export declare const CLIENT_ENTRY: string;
export declare const BUDGET_BYTES: number;
export declare function measureClient(): Promise<{ code: string; minified: number; gzipped: number; budget: number }>;
