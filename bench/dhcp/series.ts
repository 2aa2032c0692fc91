// Many runs of bench.ts in a row, variants interleaved, and what they say together: one run's p99 ratio to dnsmasq
// is noisy (dnsmasq's own p99 moves 2× between runs on this machine), a series is not.
//   npx tsx bench/dhcp/series.ts [--runs 6] [--variant 'label=bench args']… [--bench 'common bench args']
// --bench: the arguments every run gets (default: --rate 5000 --seconds 10 --clients 1000 --receive recvmmsg);
// --variant: a labelled set of extra arguments, e.g. --variant 'boost10=--thread-nice -10'; without one, a single
// variant "default" with none. Run i runs every variant once, in the order given, so a variant is never measured
// only in a quiet (or a busy) stretch. Prints, per variant, layout and target: p99 median (range), dnsmasq's in the
// same runs, every run's ratio, the runs at or under dnsmasq and the sign test of those (bench/dhcp/series-stats.ts);
// with --reference-twice among the bench arguments, also a Mann–Whitney test of each target's ratios against the second
// dnsmasq's (dnsmasq against itself: the spread a ratio has on this machine with no change in the server). A run that
// fails is reported and left out. Root, as bench.ts.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mannWhitneyP, summarize, type RunRow } from './series-stats.js'

const argv = process.argv.slice(2)
const arg = (n: string, d: string): string => { const i = argv.indexOf(`--${n}`); return i >= 0 ? argv[i + 1] : d }
const RUNS = Number(arg('runs', '6'))
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs ${arg('runs', '')}: expected a positive integer`)
const COMMON = arg('bench', '--rate 5000 --seconds 10 --clients 1000 --receive recvmmsg').split(/\s+/).filter(Boolean)
const variants: Array<[string, string[]]> = []
argv.forEach((a, i) => {
  if (a !== '--variant') return
  const spec = argv[i + 1] ?? ''
  const eq = spec.indexOf('=')
  if (eq <= 0) throw new Error(`--variant ${spec}: expected label=arguments`)
  variants.push([spec.slice(0, eq), spec.slice(eq + 1).split(/\s+/).filter(Boolean)])
})
if (variants.length === 0) variants.push(['default', []])

const dir = mkdtempSync(join(tmpdir(), 'nbd-series-'))
const rows = new Map<string, RunRow[][]>(variants.map(([label]) => [label, []]))
const bench = new URL('./bench.ts', import.meta.url).pathname
try {
  for (let run = 0; run < RUNS; run++) {
    for (const [label, extra] of variants) {
      const json = join(dir, `${label}-${run}.json`)
      const started = new Date().toISOString().slice(11, 19)
      const r = spawnSync('npx', ['tsx', bench, ...COMMON, ...extra, '--json', json], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      if (r.status !== 0) {
        console.log(`run ${run + 1}/${RUNS} ${label} (${started} UTC): bench.ts ${[...COMMON, ...extra].join(' ')} exited ${String(r.status)}, left out:\n${r.stderr.slice(-2000)}`)
        continue
      }
      const out = JSON.parse(readFileSync(json, 'utf8')) as { loadavg: number[], results: RunRow[] }
      rows.get(label)?.push(out.results)
      const ratios = out.results.filter(x => x.name !== 'dnsmasq').map(x => {
        const d = out.results.find(y => y.name === 'dnsmasq' && y.layout === x.layout)
        return `${x.name} [${x.layout}] ${d === undefined ? '?' : (x.p99 / d.p99).toFixed(2)}`
      })
      console.log(`run ${run + 1}/${RUNS} ${label} (${started} UTC, load ${out.loadavg[0].toFixed(1)}): p99 ratio ${ratios.join(', ')}`)
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

const fmt = (x: number): string => x.toFixed(3)
console.log(`\n${RUNS} runs per variant of bench.ts ${COMMON.join(' ')}`)
console.log('variant  layout  target             drops  p99 ms median (range)  dnsmasq p99 ms median (range)  p99 ratio median  runs ≤ dnsmasq  sign test p  p50 ratio median')
const summaries = summarize(rows)
for (const s of summaries) {
  console.log(`${s.variant.padEnd(8)} ${s.layout.padEnd(7)} ${s.target.padEnd(18)} ${String(s.drops).padStart(5)}  ${`${fmt(s.p99Median)} (${fmt(s.p99Min)}–${fmt(s.p99Max)})`.padEnd(21)}  ` +
    `${`${fmt(s.refP99Median)} (${fmt(s.refP99Min)}–${fmt(s.refP99Max)})`.padEnd(29)}  ${s.ratioMedian.toFixed(2).padStart(16)}  ${`${s.atOrBelow}/${s.runs}`.padStart(14)}  ` +
    `${s.signP.toFixed(3).padStart(11)}  ${s.p50RatioMedian.toFixed(2).padStart(16)}`)
  console.log(`         ratios in run order: ${s.ratios.map(r => r.toFixed(2)).join(' ')}`)
}
// With --reference-twice: is a target's ratio distributed otherwise than dnsmasq's against itself?
for (const s of summaries.filter(x => x.target !== 'dnsmasq again')) {
  const again = summaries.find(x => x.variant === s.variant && x.layout === s.layout && x.target === 'dnsmasq again')
  if (again === undefined) continue
  console.log(`${s.variant} [${s.layout}] ${s.target}: p99 ratios against dnsmasq-again's (dnsmasq against itself), ` +
    `medians ${s.ratioMedian.toFixed(2)} / ${again.ratioMedian.toFixed(2)}, Mann–Whitney p ${mannWhitneyP(s.ratios, again.ratios).toFixed(3)}`)
}
