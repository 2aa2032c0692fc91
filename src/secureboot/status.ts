// Whether the Secure Boot chain can be served (for the log at start-up; check-config says the same about a file).
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { AppConfig } from '../config/schema.js'

/** The two files a machine needs to get as far as GRUB's config; mmx64.efi (MokManager) is optional. */
const REQUIRED = ['shimx64.efi', 'grubx64.efi']

/** Which of the required files are not in `dir`. */
export async function missingChainFiles (dir: string): Promise<string[]> {
  const missing: string[] = []
  for (const f of REQUIRED) if (!await stat(join(dir, f)).then(s => s.isFile(), () => false)) missing.push(f)
  return missing
}

/** undefined when secureBoot is off; otherwise the directory and which required files are missing there. */
export async function secureBootStatus (cfg: AppConfig): Promise<{ dir: string, missing: string[] } | undefined> {
  if (!cfg.bootLoaders.secureBoot) return undefined
  const dir = cfg.bootLoaders.secureBootDir
  return { dir, missing: await missingChainFiles(dir) }
}
