/**
 * A change that could not be made durable (disk full, read-only or vanished directory). The change stays in memory
 * and the next write retries it; the HTTP API answers 507 with this message.
 */
export class StoreWriteError extends Error {
  override name = 'StoreWriteError';
}

/** Stored content whose bytes do not hash to its name. The file is already removed; storing it again repairs it. */
export class CorruptContentError extends Error {
  override name = 'CorruptContentError';
  constructor(
    readonly sha256: string,
    readonly detail: string,
  ) {
    super(`stored content ${sha256} is corrupt (${detail}); it was removed`);
  }
}
