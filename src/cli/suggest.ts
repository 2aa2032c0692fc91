// "did you mean": the closest command name by edit distance, if it is close enough to be a typo.
function distance (a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = cur
  }
  return prev[b.length]!
}

export function suggestCommand (name: string, names: readonly string[]): string | undefined {
  let best: string | undefined
  let bestD = Infinity
  for (const n of names) {
    const d = n.startsWith(name) && name.length >= 2 ? 0 : distance(name, n)
    if (d < bestD) { best = n; bestD = d }
  }
  return bestD <= Math.max(1, Math.floor((best?.length ?? 0) / 3)) ? best : undefined
}
