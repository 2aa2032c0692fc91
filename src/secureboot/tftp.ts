// TFTP side of the Secure Boot chain: shim, GRUB and MokManager read from bootLoaders.secureBootDir, and GRUB's
// entry config generated for the current HTTP base URL, as virtual files (src/tftp/virtual.ts). Firmware PXE
// loads shim over TFTP; shim fetches grubx64.efi from the same server and directory; GRUB then reads its config
// from the same server and switches to HTTP (src/grub/script.ts).
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { AppConfig } from '../config/schema.js'
import type { VirtualFiles } from '../tftp/virtual.js'
import { entryConfig } from '../grub/script.js'
import { GRUB_ENTRY_PATHS, secureBootFileFor } from './files.js'

/** Registers the handlers; returns a function that removes them. */
export function registerSecureBootFiles (virtual: VirtualFiles, config: () => AppConfig): () => void {
  // One cached copy per file, refreshed when its size or mtime changes (a few MB in all).
  const cache = new Map<string, { size: number, mtimeMs: number, data: Buffer }>()
  const offLoaders = virtual.register(/^secureboot\/[^/]+$/i, async ({ path }) => {
    const name = secureBootFileFor(path)
    if (name === undefined) return undefined
    const file = join(config().bootLoaders.secureBootDir, name)
    const st = await stat(file).catch(() => undefined)
    if (st === undefined || !st.isFile()) return undefined   // falls through to the root: "file not found"
    const hit = cache.get(file)
    if (hit !== undefined && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.data
    const data = await readFile(file)
    cache.set(file, { size: st.size, mtimeMs: st.mtimeMs, data })
    return data
  })
  const offEntries = GRUB_ENTRY_PATHS.map(p => virtual.register(p, async () => Buffer.from(entryConfig(config().httpBaseUrl))))
  return () => { offLoaders(); for (const off of offEntries) off() }
}
