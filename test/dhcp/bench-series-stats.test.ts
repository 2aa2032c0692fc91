// bench/dhcp/series-stats.ts: the summary a series of benchmark runs is judged by (medians, ratios, sign test).
import t from 'tap'
import { mannWhitneyP, median, signTestP, summarize, type RunRow } from '../../bench/dhcp/series-stats.js'

t.test('median', async t => {
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 3, 2]), 2.5)
  t.throws(() => median([]), RangeError)
})

t.test('sign test: exact binomial, two-sided', async t => {
  t.equal(signTestP(0, 0), 1)
  t.equal(signTestP(3, 6), 1, 'an even split says nothing')
  t.equal(signTestP(6, 6), 2 / 64, 'six of six below')
  t.equal(signTestP(0, 6), 2 / 64, 'symmetric')
  t.ok(Math.abs(signTestP(8, 10) - 112 / 1024) < 1e-12, '8 of 10: 2 × (1 + 10 + 45) / 1024')
})

t.test('summarize pairs each run of a target with the dnsmasq of the same run and layout', async t => {
  const run = (p99: number, ref: number, splitP99: number): RunRow[] => [
    { layout: 'shared', name: 'appliance', p50: 0.015, p99, drops: 0 },
    { layout: 'shared', name: 'dnsmasq', p50: 0.030, p99: ref, drops: 0 },
    { layout: 'split', name: 'appliance', p50: 0.015, p99: splitP99, drops: 1 },
    { layout: 'split', name: 'dnsmasq', p50: 0.050, p99: 0.1, drops: 0 }
  ]
  const [shared, split] = summarize(new Map([['default', [run(0.08, 0.1, 0.05), run(0.12, 0.1, 0.06), run(0.1, 0.1, 0.2)]]]))
  t.match(shared, { variant: 'default', layout: 'shared', target: 'appliance', runs: 3, drops: 0, p99Median: 0.1, refP99Median: 0.1, atOrBelow: 2, p50RatioMedian: 0.5 })
  t.same(shared.ratios.map(r => Number(r.toFixed(2))), [0.8, 1.2, 1], 'ratios in run order; a ratio of exactly 1 counts as no worse')
  t.equal(shared.ratioMedian, 1)
  t.match(split, { layout: 'split', drops: 3, atOrBelow: 2, p99Max: 0.2, refP99Min: 0.1 })
  t.ok(Math.abs(split.p50RatioMedian - 0.3) < 1e-12)
})

t.test('a run without dnsmasq in a layout is left out of that layout', async t => {
  const rows: RunRow[][] = [[{ layout: 'shared', name: 'appliance', p50: 1, p99: 1, drops: 0 }]]
  t.same(summarize(new Map([['x', rows]])), [])
})

t.test('Mann–Whitney: two-sided, normal approximation', async t => {
  t.equal(mannWhitneyP([], [1]), 1)
  t.ok(Math.abs(mannWhitneyP([1, 2, 3], [1, 2, 3]) - 1) < 1e-6, 'the same sample: nothing to tell apart')
  // 8 against 8 with no overlap: U = 0, z = -32 / sqrt(8·8·17/12) = -3.361, p = 0.000776
  const p = mannWhitneyP([1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 16])
  t.ok(Math.abs(p - 0.000776) < 2e-6, `disjoint samples: p ${p}`)
  t.equal(p, mannWhitneyP([9, 10, 11, 12, 13, 14, 15, 16], [1, 2, 3, 4, 5, 6, 7, 8]), 'symmetric')
  // the fifteenth pass's shared-layout figures: 35 appliance/dnsmasq ratios against 22 dnsmasq-again/dnsmasq ones
  const app = [1.12, 1.11, 1.19, 0.86, 1.19, 0.79, 0.73, 2.33, 0.75, 1.24, 0.74, 0.70, 1.05, 1.39, 0.76, 1.14, 0.41, 0.85,
    0.82, 1.19, 0.58, 1.16, 0.68, 0.57, 0.71, 1.15, 1.04, 0.73, 0.69, 1.30, 0.57, 0.93, 1.08, 1.11, 0.87]
  const ref = [1.51, 0.68, 1.45, 1.09, 0.46, 1.47, 1.05, 0.90, 0.87, 0.82, 0.57, 0.65, 0.96, 0.84, 0.76, 0.95, 0.93, 1.38,
    1.83, 1.21, 1.01, 1.26]
  t.ok(Math.abs(mannWhitneyP(app, ref) - 0.376) < 0.001, 'the figure the pass quotes (z 0.89)')
})
