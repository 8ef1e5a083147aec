export declare const CLIENT_ENTRY: string;
export declare const DPOP_CLIENT_ENTRY: string;
export declare const PASSKEYS_CLIENT_ENTRY: string;
export declare const BUDGET_BYTES: number;
export declare function measureClient(entry?: string): Promise<{ code: string; minified: number; gzipped: number; budget: number }>;
