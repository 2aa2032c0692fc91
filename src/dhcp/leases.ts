// Full-DHCP mode address bookkeeping (pure, in memory): which address each MAC holds and which addresses are
// taken. The service loads it from ctx.store.leases on start and persists each change; allocation itself is
// synchronous, so two requests can never be handed the same address (RFC 2131 §4.3.1).
import type { Lease } from '../store/types.js'
import { intToIp, ipToInt } from './options.js'

/** How long an OFFERed address is held for the client's REQUEST (RFC 2131 §4.3.1 leaves it to the server). */
export const OFFER_HOLD_MS = 60_000
/** How long a DECLINEd address (in use by someone else, RFC 2131 §4.3.3) stays out of the pool. */
export const DECLINE_HOLD_MS = 10 * 60_000

export interface Pool {
  start: number
  end: number
  exclude: ReadonlySet<number>
  /** reservations: MAC → its fixed address, and the reverse */
  reservedFor: ReadonlyMap<string, number>
  reservedIp: ReadonlyMap<number, string>
}

export function makePool (poolStart: string, poolEnd: string, exclude: string[] = [], reservations: ReadonlyArray<{ mac: string, ip: string }> = []): Pool {
  const a = ipToInt(poolStart); const b = ipToInt(poolEnd)
  const reservedFor = new Map<string, number>()
  const reservedIp = new Map<number, string>()
  for (const r of reservations) {
    const ip = ipToInt(r.ip)
    reservedFor.set(r.mac, ip)
    reservedIp.set(ip, r.mac)
  }
  return { start: Math.min(a, b), end: Math.max(a, b), exclude: new Set(exclude.map(ipToInt)), reservedFor, reservedIp }
}

/** In the dynamic range and not excluded (reservations aside). */
export const inPool = (pool: Pool, ip: number): boolean => ip >= pool.start && ip <= pool.end && !pool.exclude.has(ip)

/**
 * An address `mac` may hold: its own reservation (in or outside the range), or a dynamic address nobody has
 * reserved. A reserved address is never handed to another client, even when the pool is otherwise exhausted.
 */
export function usableBy (pool: Pool, ip: number, mac: string): boolean {
  const owner = pool.reservedIp.get(ip)
  if (owner !== undefined) return owner === mac
  return inPool(pool, ip)
}

const expiresMs = (l: Lease): number => Date.parse(l.expiresAt)

export class LeaseTable {
  private readonly byMac = new Map<string, Lease>()
  private readonly byIp = new Map<number, Lease>()
  /** addresses declined by a client whose lease record has since moved on, with their hold end */
  private readonly quarantine = new Map<number, number>()
  private hint = 0

  constructor (leases: Iterable<Lease> = []) {
    for (const l of leases) this.set(l)
  }

  get (mac: string): Lease | undefined { return this.byMac.get(mac) }
  list (): Lease[] { return [...this.byMac.values()] }

  /** Free for `mac`: nobody else holds it (offered/bound/declined and unexpired) and it is not quarantined. */
  isFree (ip: number, mac: string, nowMs: number): boolean {
    const q = this.quarantine.get(ip)
    if (q !== undefined) {
      if (q > nowMs) return false
      this.quarantine.delete(ip)
    }
    const l = this.byIp.get(ip)
    if (l === undefined || l.state === 'released' || expiresMs(l) <= nowMs) return true
    return l.mac === mac && l.state !== 'declined'
  }

  /** The address to OFFER: the client's previous one, else the one it asks for (option 50), else the next free. */
  pick (mac: string, requested: string | undefined, pool: Pool, nowMs: number): string | undefined {
    // A reservation wins; while another client still holds that address (leased before the reservation was
    // configured) this one gets a dynamic address, and its own from the next DISCOVER after that lease ends.
    const reserved = pool.reservedFor.get(mac)
    if (reserved !== undefined && this.isFree(reserved, mac, nowMs)) return intToIp(reserved)
    const own = this.byMac.get(mac)
    if (own !== undefined && own.state !== 'declined') {
      const ip = ipToInt(own.ip)
      if (usableBy(pool, ip, mac) && this.isFree(ip, mac, nowMs)) return own.ip
    }
    if (requested !== undefined) {
      const ip = ipToInt(requested)
      if (usableBy(pool, ip, mac) && this.isFree(ip, mac, nowMs)) return requested
    }
    const size = pool.end - pool.start + 1
    for (let i = 0; i < size; i++) {
      const ip = pool.start + ((this.hint + i) % size)
      if (usableBy(pool, ip, mac) && this.isFree(ip, mac, nowMs)) {
        this.hint = (ip - pool.start + 1) % size
        return intToIp(ip)
      }
    }
    return undefined
  }

  /** Records a lease; returns the one it replaced, so a failed store write can be undone with restore(). */
  set (l: Lease): Lease | undefined {
    const prev = this.byMac.get(l.mac)
    if (prev !== undefined && prev.ip !== l.ip) {
      const pip = ipToInt(prev.ip)
      if (this.byIp.get(pip)?.mac === l.mac) this.byIp.delete(pip)
      // A declined address stays out of the pool for its hold time even after the client moves on.
      if (prev.state === 'declined') this.quarantine.set(pip, expiresMs(prev))
    }
    this.byMac.set(l.mac, l)
    this.byIp.set(ipToInt(l.ip), l)
    return prev
  }

  /** Undo a set(): put back `prev` (or forget the MAC when there was none). */
  restore (mac: string, current: Lease, prev: Lease | undefined): void {
    if (this.byMac.get(mac) !== current) return
    const cip = ipToInt(current.ip)
    if (this.byIp.get(cip) === current) this.byIp.delete(cip)
    this.byMac.delete(mac)
    if (prev !== undefined) this.set(prev)
  }
}
