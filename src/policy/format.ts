// An explanation as text for people (`netboot whatif`): the decision first, then the trace, the collections and
// a verdict for every advertisement. Pure; the CLI prints the lines.
import type { Explanation } from './decide.js'

/** What whatif shows: the policy's explanation, and why a "deploy" would not start now (no PE for the machine). */
export type BootPreview = Explanation & { blocked?: string }

export interface FormatOptions {
  /** where the answer came from (the daemon, or the config and store read directly) */
  source?: string
  notes?: string[]
  menuTimeoutSeconds?: number
}

/** One line saying what the machine boots. */
export function decisionLine (e: Explanation, menuTimeoutSeconds?: number): string {
  const d = e.decision
  switch (d.kind) {
    case 'deploy': {
      const ts = d.taskSequence.name !== undefined ? `${d.taskSequence.id} (${d.taskSequence.name})` : d.taskSequence.id
      return `DEPLOY ${d.advertisement.id} (${d.advertisement.purpose}) → task sequence ${ts}, ${d.taskSequence.steps.length} step(s)`
    }
    case 'menu': {
      const after = menuTimeoutSeconds !== undefined ? ` after ${menuTimeoutSeconds} s` : ''
      return `MENU ${d.items.map(i => i.advertisement.id).join(', ')} (falls through to the local disk${after})`
    }
    case 'local':
    default:
      return `LOCAL DISK: ${d.kind === 'local' ? d.reason : 'unknown decision'}`
  }
}

function table (rows: string[][]): string[] {
  const widths: number[] = []
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, c.length) })
  return rows.map(r => '  ' + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd())
}

export function formatExplanation (e: BootPreview, opts: FormatOptions = {}): string[] {
  const out = [decisionLine(e, opts.menuTimeoutSeconds)]
  if (e.blocked !== undefined) out.push(`BUT NOT NOW: ${e.blocked}; the machine is told so and boots its local disk`)
  out.push('', 'why:')
  for (const t of e.decision.trace) out.push(`  ${t}`)
  out.push('', 'collections:')
  if (e.collections.length === 0) out.push('  (none)')
  else out.push(...table(e.collections.map(c => [c.id + (c.name !== undefined ? ` (${c.name})` : ''), c.kind, `specificity ${c.specificity}`, c.why])))
  out.push('', 'advertisements:')
  if (e.advertisements.length === 0) out.push('  (none in the config)')
  else out.push(...table(e.advertisements.map(a => [a.id, a.purpose, `${a.collection} → ${a.taskSequence}`, a.verdict, a.why])))
  if (opts.source !== undefined) out.push('', `source: ${opts.source}`)
  for (const n of opts.notes ?? []) out.push(`note: ${n}`)
  return out
}
