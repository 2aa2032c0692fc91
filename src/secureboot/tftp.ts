// TFTP side of the Secure Boot chain: shim, GRUB and MokManager read from bootLoaders.secureBootDir, and GRUB's
// entry config generated for the current HTTP base URL, as virtual files (src/tftp/virtual.ts). Firmware PXE
// loads shim over TFTP; shim fetches grubx64.efi from the same server and directory; GRUB then reads its config
// from the same server and switches to HTTP (src/grub/script.ts).
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { AppConfig } from '../config/schema.js'
import type { FileCache } from '../tftp/cache.js'
import type { VirtualFiles } from '../tftp/virtual.js'
import { entryConfig } from '../grub/script.js'
import { GRUB_ENTRY_PATHS, secureBootFileFor } from './files.js'

/** Registers the handlers; returns a function that removes them. Files go through the TFTP server's cache. */
export function registerSecureBootFiles (virtual: VirtualFiles, config: () => AppConfig, cache: FileCache): () => void {
  const offLoaders = virtual.register(/^secureboot\/[^/]+$/i, async ({ path }) => {
    const name = secureBootFileFor(path)
    if (name === undefined) return undefined
    const file = join(config().bootLoaders.secureBootDir, name)
    const st = await stat(file).catch(() => undefined)
    if (st === undefined || !st.isFile()) return undefined   // falls through to the root: "file not found"
    // Not cached (tftp.cacheBytes 0 or too small, or the file changed while read): read it for this transfer.
    return await cache.get(file, st) ?? await readFile(file)
  })
  const offEntries = GRUB_ENTRY_PATHS.map(p => virtual.register(p, async () => Buffer.from(entryConfig(config().httpBaseUrl))))
  return () => { offLoaders(); for (const off of offEntries) off() }
}
