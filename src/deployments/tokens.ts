// One-time deployment tokens. The PE gets the token on its kernel command line; the store keeps only its SHA-256,
// so a copy of the database does not let anyone act as a PE.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** 32 random bytes, base64url (43 characters, safe on a kernel command line and in a URL). */
export function newToken (): string {
  return randomBytes(32).toString('base64url')
}

export function hashToken (token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/** Compare a token with a stored hash in constant time. */
export function tokenMatches (token: string, storedHash: string): boolean {
  const a = Buffer.from(hashToken(token), 'hex')
  const b = Buffer.from(storedHash, 'hex')
  return a.length === b.length && timingSafeEqual(a, b)
}

/** Short random deployment id (12 hex digits): readable in logs and the CLI, 48 bits against collisions. */
export function newDeploymentId (): string {
  return randomBytes(6).toString('hex')
}
