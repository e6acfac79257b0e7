import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Device tokens: 32 random bytes, shown once; only their sha256 is stored. */
export function mintToken(): string {
  return randomBytes(32).toString('hex'); // hex: a token never starts with '-' (which a CLI would read as a flag)
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function tokenMatches(token: string, storedHash: string): boolean {
  const a = Buffer.from(hashToken(token), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
