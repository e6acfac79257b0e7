// postject ships no types; this is the one function we call (dist/api.js).
declare module 'postject' {
  export function inject(filename: string, resourceName: string, resourceData: Buffer, options: { sentinelFuse: string; overwrite?: boolean }): Promise<void>;
}
