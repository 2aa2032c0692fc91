// A config problem, located in the file: what `check-config`, the log and the admin API print.
export interface ConfigIssue {
  file: string
  line: number                // 1-based; 0 when the problem is the file as a whole
  column: number              // 1-based
  /** JSON-pointer-like path into the document, e.g. /advertisements/2/collection */
  path: string
  message: string
  hint?: string
}

export function formatIssue (i: ConfigIssue, severity = 'error'): string {
  const where = i.line > 0 ? `${i.file}:${i.line}:${i.column}` : i.file
  return `${where}: ${severity}: ${i.message}${i.hint !== undefined ? ` (hint: ${i.hint})` : ''}`
}
