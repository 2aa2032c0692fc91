// Pure summaries for bench/dhcp/series.ts: many runs of bench.ts, each comparing a target with dnsmasq in the same
// run, boiled down to what one run cannot say (dnsmasq's own p99 moved 2× between runs of one hour on this machine,
// bench/dhcp/README.md, fifteenth pass).

/** Median of a non-empty list (mean of the middle two for an even count). */
export function median (xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median of an empty list')
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/**
 * Two-sided sign test: the probability, if a run were as likely to come out above 1 as below it, of a split at
 * least as uneven as `below` of `n` runs. Exact binomial (n is small), capped at 1.
 */
export function signTestP (below: number, n: number): number {
  if (n === 0) return 1
  const k = Math.min(below, n - below)
  let tail = 0
  for (let i = 0; i <= k; i++) tail += binomial(n, i)
  return Math.min(1, 2 * tail / 2 ** n)
}

function binomial (n: number, k: number): number {
  let r = 1
  for (let i = 1; i <= k; i++) r = r * (n - k + i) / i
  return r
}

/** One target's figures in one run, as bench.ts --json writes them (the fields this summary reads). */
export interface RunRow { layout: string, name: string, p50: number, p99: number, drops: number }

export interface TargetSummary {
  variant: string, layout: string, target: string, runs: number, drops: number,
  p99Median: number, p99Min: number, p99Max: number,
  /** dnsmasq's p99 in the same runs */
  refP99Median: number, refP99Min: number, refP99Max: number,
  /** target p99 / dnsmasq p99, per run, in run order */
  ratios: number[], ratioMedian: number, atOrBelow: number,
  p50RatioMedian: number,
  /** sign test of the ratios against 1 (runs exactly at 1 count as below: "no worse") */
  signP: number
}

/**
 * Per variant, layout and target (every target but dnsmasq): its p99 and dnsmasq's across the runs, the per-run ratio,
 * how many runs were at or below dnsmasq, and the sign test. `runs`: per variant, the rows of each run.
 */
export function summarize (runs: ReadonlyMap<string, ReadonlyArray<readonly RunRow[]>>): TargetSummary[] {
  const out: TargetSummary[] = []
  for (const [variant, list] of runs) {
    const keys = new Set<string>()
    for (const rows of list) for (const r of rows) if (r.name !== 'dnsmasq') keys.add(`${r.layout}\u0000${r.name}`)
    for (const key of keys) {
      const [layout, target] = key.split('\u0000')
      const pairs: Array<[RunRow, RunRow]> = []
      for (const rows of list) {
        const a = rows.find(r => r.layout === layout && r.name === target)
        const d = rows.find(r => r.layout === layout && r.name === 'dnsmasq')
        if (a !== undefined && d !== undefined) pairs.push([a, d])
      }
      if (pairs.length === 0) continue
      const ratios = pairs.map(([a, d]) => a.p99 / d.p99)
      const atOrBelow = ratios.filter(r => r <= 1).length
      const p99 = pairs.map(([a]) => a.p99); const ref = pairs.map(([, d]) => d.p99)
      out.push({
        variant, layout, target, runs: pairs.length, drops: pairs.reduce((n, [a]) => n + a.drops, 0),
        p99Median: median(p99), p99Min: Math.min(...p99), p99Max: Math.max(...p99),
        refP99Median: median(ref), refP99Min: Math.min(...ref), refP99Max: Math.max(...ref),
        ratios, ratioMedian: median(ratios), atOrBelow,
        p50RatioMedian: median(pairs.map(([a, d]) => a.p50 / d.p50)),
        signP: signTestP(atOrBelow, ratios.length)
      })
    }
  }
  return out
}

/**
 * Mann–Whitney U test, two-sided, normal approximation (no tie correction; fine for the 6–40 runs a series has):
 * the probability of rank sums at least this far apart if `xs` and `ys` came from one distribution. series.ts uses it
 * on p99 ratios: a target's against dnsmasq's, and dnsmasq's second run's against its first ("dnsmasq again", the
 * spread one server shows against itself on this machine).
 */
export function mannWhitneyP (xs: readonly number[], ys: readonly number[]): number {
  if (xs.length === 0 || ys.length === 0) return 1
  let u = 0
  for (const x of xs) for (const y of ys) u += x < y ? 1 : x === y ? 0.5 : 0
  const n1 = xs.length; const n2 = ys.length
  const z = (u - n1 * n2 / 2) / Math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
  return Math.min(1, erfc(Math.abs(z) / Math.SQRT2))
}

/** Complementary error function (Numerical Recipes' erfcc, fractional error < 1.2e-7). */
function erfc (x: number): number {
  const t = 1 / (1 + x / 2)
  const y = t * Math.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
  return x >= 0 ? y : 2 - y
}
