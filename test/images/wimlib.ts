// Test helpers around the real wimlib tools (wimtools): make small trees and WIMs, parse `wiminfo` output.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const run = promisify(execFile)

export async function sh (cmd: string, args: string[], opts: { encoding?: BufferEncoding | 'buffer' } = {}): Promise<string> {
  const r = await run(cmd, args, { maxBuffer: 64 * 1024 * 1024, encoding: (opts.encoding ?? 'utf8') as BufferEncoding })
  return r.stdout
}

/** Writes a small tree: `files` maps relative paths to contents; directories are created as needed. */
export async function makeTree (root: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [rel, data] of Object.entries(files)) {
    const p = join(root, rel)
    await mkdir(join(p, '..'), { recursive: true })
    await writeFile(p, data)
  }
}

export const SAMPLE_TREE: Record<string, string | Buffer> = {
  'readme.txt': 'hello from the reference computer\n',
  'Windows/System32/config.sys': 'x'.repeat(3000),
  'Windows/System32/drivers/etc/hosts': '127.0.0.1 localhost\n',
  'Users/Public/Desktop/note.txt': 'a note\n',
  'Program Files/App/app.bin': Buffer.alloc(5000, 7)
}

/** `wiminfo` (text) → header fields and one record per image, keyed by the label before the colon. */
export function parseWiminfo (text: string): { wim: Record<string, string>, images: Array<Record<string, string>> } {
  const [head, imgs = ''] = text.split(/Available Images:\n-+\n/)
  const kv = (block: string): Record<string, string> => {
    const out: Record<string, string> = {}
    for (const line of block.split('\n')) {
      const m = /^([A-Za-z][A-Za-z ]*?):\s*(.*)$/.exec(line)
      if (m !== null) out[m[1]] = m[2].trim()
    }
    return out
  }
  return { wim: kv(head), images: imgs.split(/\n\s*\n/).filter(b => /Index:/.test(b)).map(kv) }
}

/** `wiminfo --header` → "Name = value" pairs. */
export function parseWiminfoHeader (text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const m = /^(\S[^=]*?)\s+=\s+(.*)$/.exec(line)
    if (m !== null) out[m[1]] = m[2].trim()
  }
  return out
}

/** wimlib prints times as `Mon Nov 23 22:22:38 2026 UTC` (asctime of gmtime). */
export function asWimlibTime (iso: string): string {
  const d = new Date(iso)
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()]
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()]
  const p = (n: number): string => String(n).padStart(2, '0')
  return `${day} ${mon} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()} UTC`
}
