// Minimal pcap reader for the benchmark: per-xid DISCOVER→OFFER latency measured on the wire (tcpdump in the
// client namespace), so both servers are timed the same way. Ethernet + IPv4 + UDP only.
import { readFileSync } from 'node:fs'

export interface Timing { /** epoch ms of the first DISCOVER */ t0: number, sent: number, answered: number, latenciesMs: number[], /** [seconds since first DISCOVER, latency ms] */ series: Array<[number, number]> }

export function discoverOfferTimings (file: string): Timing {
  const b = readFileSync(file)
  if (b.length < 24) return { t0: 0, sent: 0, answered: 0, latenciesMs: [], series: [] }
  const le = b.readUInt32LE(0) === 0xa1b2c3d4
  const nano = b.readUInt32LE(0) === 0xa1b23c4d
  const u32 = (at: number): number => le || nano ? b.readUInt32LE(at) : b.readUInt32BE(at)
  const sentAt = new Map<number, number>()
  const lat: number[] = []
  const series: Array<[number, number]> = []
  let t0 = -1
  let at = 24
  while (at + 16 <= b.length) {
    const t = u32(at) * 1000 + u32(at + 4) / (nano ? 1e6 : 1e3)
    const incl = u32(at + 8)
    const pkt = b.subarray(at + 16, at + 16 + incl)
    at += 16 + incl
    if (pkt.length < 14 + 20 + 8 + 240 || pkt.readUInt16BE(12) !== 0x0800) continue
    const ihl = (pkt[14] & 0x0f) * 4
    const dhcp = pkt.subarray(14 + ihl + 8)
    if (dhcp.length < 240) continue
    const op = dhcp[0]; const xid = dhcp.readUInt32BE(4)
    if (op === 1) {
      if (t0 < 0) t0 = t
      if (!sentAt.has(xid)) sentAt.set(xid, t)
    } else if (op === 2) {
      const s = sentAt.get(xid)
      if (s !== undefined && s !== Infinity) { lat.push(t - s); series.push([(s - t0) / 1000, t - s]); sentAt.set(xid, Infinity) }
    }
  }
  return { t0, sent: sentAt.size, answered: lat.length, latenciesMs: lat.filter(x => x >= 0), series }
}

export function percentile (xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))]
}

/** p50 per whole second of the run: shows whether a tail is start-up (JIT, first writes) or steady state. */
export function perSecondP50 (series: Array<[number, number]>, p = 50): string {
  const buckets = new Map<number, number[]>()
  for (const [s, l] of series) { const k = Math.floor(s); buckets.set(k, [...(buckets.get(k) ?? []), l]) }
  return [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([, l]) => percentile(l, p).toFixed(2)).join(' ')
}

/**
 * How evenly the load generator sent: DISCOVERs that left < 20 µs after the previous one (bursts: perfdhcp caught
 * up after falling behind) and gaps > 1 ms (it fell behind). Measured from the same capture for every server, so a
 * server that starves perfdhcp of CPU shows more of both, and its tail is partly queueing behind those bursts.
 */
export function sendEvenness (series: Array<[number, number]>): { bursts: number, stalls: number } {
  const s = series.map(x => x[0]).sort((a, b) => a - b)
  let bursts = 0; let stalls = 0
  for (let i = 1; i < s.length; i++) {
    const gap = s[i] - s[i - 1]
    if (gap < 20e-6) bursts++
    else if (gap > 1e-3) stalls++
  }
  return { bursts, stalls }
}
