// The start of a storm, close up: a capture kept by bench.ts (KEEP_PCAP=<dir>) cut into buckets, each with its
// DISCOVER count, reply latency p50/p99/max, replies over 0.3 ms, and how evenly perfdhcp sent (bursts < 20 µs
// apart, stalls > 1 ms, longest gap). Shows whether a first-second tail is the server (slow replies while perfdhcp
// sends evenly) or the load generator (slow replies inside its bursts).
//   npx tsx bench/dhcp/first-second.ts <capture.pcap> [bucket seconds, 0.05] [until second, 1]
import { discoverOfferTimings, percentile } from './pcap.js'
const t = discoverOfferTimings(process.argv[2])
const s = [...t.series].sort((a, b) => a[0] - b[0])
const W = Number(process.argv[3] ?? '0.05'); const END = Number(process.argv[4] ?? '1')
for (let b = 0; b < END; b += W) {
  const inb = s.filter(([a]) => a >= b && a < b + W)
  let bursts = 0, stalls = 0, maxgap = 0
  for (let i = 1; i < inb.length; i++) { const g = inb[i][0] - inb[i - 1][0]; if (g < 20e-6) bursts++; else if (g > 1e-3) stalls++; maxgap = Math.max(maxgap, g) }
  const l = inb.map(x => x[1])
  console.log(`${b.toFixed(2)} n=${inb.length} p50=${percentile(l, 50).toFixed(3)} p99=${percentile(l, 99).toFixed(3)} max=${Math.max(...l).toFixed(3)} slow>0.3=${l.filter(x => x > 0.3).length} bursts=${bursts} stalls=${stalls} maxgap=${(maxgap * 1000).toFixed(2)}ms`)
}
