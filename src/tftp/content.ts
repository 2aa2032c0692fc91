// What a read request is answered with: a virtual file, a cached file, a streamed file, or a refusal carrying the
// TFTP error the client sees. No sockets here.
import { isNamedPath, normalizeRequestPath, resolveInRoot } from './paths.js'
import { ERR } from './packet.js'
import { BufferSource, FileSource, type Source } from './source.js'
import type { FileCache } from './cache.js'
import type { VirtualFiles } from './virtual.js'

export interface ContentDeps {
  root: string
  virtual: VirtualFiles
  cache: FileCache
  /** read-ahead chunk of a streamed file */
  chunkBytes: number
  /** paths the admin named in the config (bootLoaders): a symlink out of the root is followed for these only */
  named: readonly string[]
}

export type Content =
  | { ok: true, source: Source, file: string, from: 'virtual' | 'cache' | 'disk' }
  | { ok: false, code: number, reason: string, /** log level: refusals are info, our own failures warn */ level: 'info' | 'warn', err?: unknown }

function errnoOf (err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code
}

/** Resolves one RRQ file name for `client`. Never throws. */
export async function openContent (raw: string, client: { address: string, port: number }, d: ContentDeps): Promise<Content> {
  const n = normalizeRequestPath(raw)
  if (!n.ok) return { ok: false, code: n.code, reason: n.reason, level: 'info' }
  try {
    const generated = await d.virtual.resolve({ path: n.rel, client })
    if (generated !== undefined) return { ok: true, source: new BufferSource(generated), file: n.rel, from: 'virtual' }
  } catch (err) {
    return { ok: false, code: ERR.NOT_DEFINED, reason: 'internal error generating the file', level: 'warn', err }
  }
  const r = await resolveInRoot(d.root, n, isNamedPath(n, d.named))
  if (!r.ok) return { ok: false, code: r.code, reason: r.reason, level: 'info' }
  try {
    const cached = await d.cache.get(r.path, r.stats)
    if (cached !== undefined) return { ok: true, source: new BufferSource(cached), file: r.rel, from: 'cache' }
    return { ok: true, source: await FileSource.open(r.path, d.chunkBytes), file: r.rel, from: 'disk' }
  } catch (err) {
    const code = errnoOf(err)
    if (code === 'EACCES' || code === 'EPERM') return { ok: false, code: ERR.ACCESS, reason: 'permission denied', level: 'info' }
    if (code === 'ENOENT') return { ok: false, code: ERR.NOT_FOUND, reason: 'file not found', level: 'info' }
    if (code === 'EMFILE' || code === 'ENFILE') return { ok: false, code: ERR.NOT_DEFINED, reason: 'server busy, retry', level: 'warn', err }
    return { ok: false, code: ERR.NOT_DEFINED, reason: 'read error on server', level: 'warn', err }
  }
}
