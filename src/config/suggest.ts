// "did you mean …?" for misspelt keys, ids and enum values.

/** Edit distance counting a swap of two neighbours as one edit (optimal string alignment). Small strings only. */
export function distance (a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i === 0 ? j : j === 0 ? i : 0))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}

/** A hint naming the closest candidate, if one is close enough to be a typo. */
export function didYouMean (word: string, candidates: readonly string[]): string | undefined {
  if (word.length > 100) return undefined
  let best: string | undefined
  let bestD = Infinity
  for (const c of candidates) {
    const d = c.toLowerCase() === word.toLowerCase() ? 0 : distance(word, c)
    if (d < bestD) { best = c; bestD = d }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)))
  return best !== undefined && bestD <= limit ? `did you mean '${best}'?` : undefined
}
