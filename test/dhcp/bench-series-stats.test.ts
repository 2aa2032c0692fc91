// bench/dhcp/series-stats.ts: the summary a series of benchmark runs is judged by (medians, ratios, sign test).
import t from 'tap'
import { median, signTestP, summarize, type RunRow } from '../../bench/dhcp/series-stats.js'

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
