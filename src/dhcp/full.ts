// Full-DHCP mode (pure): the server's side of RFC 2131 §4.3 for one request, against a LeaseTable.
// Returns the reply to send and the lease to persist; the service commits the lease to the table and the store
// before sending, so nothing is promised that is not recorded.
import type { AppConfig, FullDhcp } from '../config/schema.js'
import type { Lease } from '../store/types.js'
import type { DhcpPacket } from './packet.js'
import { MessageType, Opt, ipToBuffer, ipToInt, optIp, type DhcpOptions } from './options.js'
import { DECLINE_HOLD_MS, OFFER_HOLD_MS, makePool, usableBy, type LeaseTable, type Pool } from './leases.js'
import { addBootOptions, baseReply, bootFileFor, echoRelayInfo } from './proxy.js'
import type { Classified } from './classify.js'

export interface FullOutcome {
  reply?: DhcpPacket
  nak?: boolean
  /** lease to record before replying */
  save?: Lease
  /** why nothing is sent (debug log) */
  reason?: string
}

const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b }
const iso = (ms: number): string => new Date(ms).toISOString()

export function poolOf (cfg: AppConfig): Pool | undefined {
  const f = cfg.dhcp.full
  // Hand-built configs (tests) may omit reservations; loaded ones always have the schema default [].
  return f === undefined ? undefined : makePool(f.poolStart, f.poolEnd, [cfg.server.address], f.reservations ?? [])
}

/** Options 1, 3, 6, 15 (RFC 2132 §3) and, for a lease, 51/58/59 (T1 = 1/2, T2 = 7/8 of it, RFC 2131 §4.4.5). */
function addNetworkOptions (o: DhcpOptions, f: FullDhcp, withLease: boolean): void {
  if (withLease) {
    o.set(Opt.LEASE_TIME, u32(f.leaseSeconds))
    o.set(Opt.RENEWAL_TIME, u32(Math.floor(f.leaseSeconds / 2)))
    o.set(Opt.REBINDING_TIME, u32(Math.floor(f.leaseSeconds * 7 / 8)))
  }
  o.set(Opt.SUBNET_MASK, ipToBuffer(f.subnetMask))
  if (f.router !== undefined) o.set(Opt.ROUTER, ipToBuffer(f.router))
  if (f.dns.length > 0) o.set(Opt.DNS, Buffer.concat(f.dns.map(ipToBuffer)))
  if (f.domain !== undefined) o.set(Opt.DOMAIN, Buffer.from(f.domain, 'latin1'))
}

function positive (req: Classified, cfg: AppConfig, type: number, yiaddr: string): DhcpPacket {
  const f = cfg.dhcp.full as FullDhcp
  const reply = baseReply(req.packet, type, cfg.server.address)
  reply.yiaddr = yiaddr
  addNetworkOptions(reply.options, f, yiaddr !== '0.0.0.0')
  // RFC 2132 §3.14: the host name of a reservation that names one, with the address reserved for it.
  const hostname = f.reservations?.find(r => r.mac === req.mac && r.ip === yiaddr)?.hostname
  if (hostname !== undefined) reply.options.set(Opt.HOSTNAME, Buffer.from(hostname, 'latin1'))
  // PXE clients in full mode get address and boot file in the same OFFER/ACK.
  const boot = req.pxe !== undefined ? bootFileFor(req.pxe, cfg) : undefined
  if (boot !== undefined) addBootOptions(reply, req.packet, boot, cfg)
  echoRelayInfo(reply, req.packet)
  return reply
}

function nak (req: Classified, cfg: AppConfig, why: string): FullOutcome {
  const reply = baseReply(req.packet, MessageType.NAK, cfg.server.address)
  reply.options.set(Opt.MESSAGE, Buffer.from(why, 'latin1'))
  // RFC 2131 §4.1: a NAK through a relay sets the broadcast bit so the relay broadcasts it.
  if (req.relayed) reply.flags |= 0x8000
  return { reply, nak: true, reason: why }
}

function discover (req: Classified, cfg: AppConfig, t: LeaseTable, pool: Pool, now: number): FullOutcome {
  const mac = req.mac
  const ip = t.pick(mac, optIp(req.packet.options, Opt.REQUESTED_IP), pool, now)
  if (ip === undefined) return { reason: 'pool exhausted' }
  const own = t.get(mac)
  // A client that still holds this address keeps its bound lease; otherwise hold the address for the REQUEST.
  const keep = own !== undefined && own.ip === ip && own.state === 'bound' && Date.parse(own.expiresAt) > now
  const save: Lease | undefined = keep ? undefined : { mac, ip, state: 'offered', expiresAt: iso(now + OFFER_HOLD_MS) }
  return { reply: positive(req, cfg, MessageType.OFFER, ip), save }
}

function ack (req: Classified, cfg: AppConfig, ip: string, now: number): FullOutcome {
  const f = cfg.dhcp.full as FullDhcp
  const save: Lease = { mac: req.mac, ip, state: 'bound', expiresAt: iso(now + f.leaseSeconds * 1000) }
  return { reply: positive(req, cfg, MessageType.ACK, ip), save }
}

/** RFC 2131 §4.3.2: SELECTING (54 + 50), INIT-REBOOT (50, no 54), RENEWING/REBINDING (ciaddr). */
function request (req: Classified, cfg: AppConfig, t: LeaseTable, pool: Pool, now: number): FullOutcome {
  const p = req.packet
  const serverId = optIp(p.options, Opt.SERVER_ID)
  const requested = optIp(p.options, Opt.REQUESTED_IP)
  const own = t.get(req.mac)
  const holds = (ip: string): boolean => usableBy(pool, ipToInt(ip), req.mac) && t.isFree(ipToInt(ip), req.mac, now)
  if (serverId !== undefined) {
    if (serverId !== cfg.server.address) {
      // The client chose another server's offer: release what we held for it.
      if (own?.state === 'offered') return { save: { ...own, state: 'released', expiresAt: iso(now) }, reason: 'client chose another server' }
      return { reason: 'client chose another server' }
    }
    const ip = requested ?? (p.ciaddr !== '0.0.0.0' ? p.ciaddr : undefined)
    if (ip === undefined || own === undefined || own.ip !== ip || !holds(ip)) return nak(req, cfg, 'address not offered to you')
    return ack(req, cfg, ip, now)
  }
  if (requested !== undefined && p.ciaddr === '0.0.0.0') {
    // INIT-REBOOT: "If the DHCP server has no record of this client, then it MUST remain silent."
    if (own === undefined) return { reason: 'INIT-REBOOT from a client we have no record of' }
    if (own.ip !== requested || !holds(requested)) return nak(req, cfg, 'wrong address')
    return ack(req, cfg, requested, now)
  }
  if (p.ciaddr !== '0.0.0.0') {
    if (own === undefined || own.ip !== p.ciaddr) {
      return own === undefined ? { reason: 'renewal of a lease we do not know' } : nak(req, cfg, 'lease not yours')
    }
    if (!holds(p.ciaddr)) return nak(req, cfg, 'lease lost')
    return ack(req, cfg, p.ciaddr, now)
  }
  return { reason: 'REQUEST without server id, requested address or ciaddr' }
}

export function handleFull (req: Classified, cfg: AppConfig, t: LeaseTable, now: number): FullOutcome {
  const pool = poolOf(cfg)
  if (pool === undefined) return { reason: 'dhcp.full is not configured' }
  const own = t.get(req.mac)
  switch (req.messageType) {
    case MessageType.DISCOVER: return discover(req, cfg, t, pool, now)
    case MessageType.REQUEST: return request(req, cfg, t, pool, now)
    case MessageType.DECLINE: {
      // RFC 2131 §4.3.3: the address is in use by someone else; keep it out of the pool for a while.
      const ip = optIp(req.packet.options, Opt.REQUESTED_IP)
      if (own === undefined || ip === undefined || own.ip !== ip) return { reason: 'DECLINE of an address not ours' }
      return { save: { ...own, state: 'declined', expiresAt: iso(now + DECLINE_HOLD_MS) }, reason: 'declined' }
    }
    case MessageType.RELEASE: {
      // RFC 2131 §4.3.4: keep the record (the client gets the same address next time) but free the address.
      if (own === undefined || own.ip !== req.packet.ciaddr) return { reason: 'RELEASE of an address not ours' }
      return { save: { ...own, state: 'released', expiresAt: iso(now) }, reason: 'released' }
    }
    case MessageType.INFORM:
      // RFC 2131 §4.3.5: ACK with configuration only: no yiaddr, no lease time.
      return { reply: positive(req, cfg, MessageType.ACK, '0.0.0.0') }
    default: return { reason: `message type ${req.messageType}` }
  }
}
