// Checks that read the disk: an applyImage index must exist in its WIM (when the WIM is already in the
// image store), and the TFTP root should exist. A WIM not yet captured or copied is only a warning.
import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { readWimInfo } from '../images/wim.js'
import { entries, section, str, type Obj, type Reporter } from './report.js'
import { DEFAULT_SECURE_BOOT_DIR } from './schema.js'
import { missingChainFiles } from '../secureboot/status.js'

type WimCount = { count: number } | { missing: true } | { unreadable: string }

async function imageCount (file: string): Promise<WimCount> {
  try {
    const st = await stat(file)
    if (!st.isFile()) return { unreadable: 'not a regular file' }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true }
    return { unreadable: (err as NodeJS.ErrnoException).code ?? String(err) }
  }
  try {
    return { count: (await readWimInfo(file)).imageCount }
  } catch (err) {
    return { unreadable: (err as Error).message }
  }
}

export async function checkFiles (data: Obj, r: Reporter, cwd: string): Promise<void> {
  const store = str(section(data, 'paths').images)
  const counts = new Map<string, WimCount>()
  if (store !== undefined) {
    for (const [i, img] of entries(data.images)) {
      const id = str(img.id)
      const file = str(img.file)
      if (id === undefined || file === undefined || file.startsWith('/') || file.split(/[\\/]/).includes('..')) continue
      if (counts.has(id)) continue
      const abs = resolve(cwd, store, file)
      const c = await imageCount(abs)
      counts.set(id, c)
      if ('missing' in c) {
        r.warn(['images', i, 'file'], `WIM file ${abs} for image '${id}' does not exist yet`,
          'copy or capture it into the image store before a machine deploys it')
      } else if ('unreadable' in c) {
        r.error(['images', i, 'file'], `image '${id}': ${abs} is not a readable WIM (${c.unreadable})`,
          'check it with `wiminfo`; re-copy or re-capture it')
      }
    }
  }
  for (const [ti, ts] of entries(data.taskSequences)) {
    for (const [si, step] of entries(ts.steps)) {
      if (step.type !== 'applyImage' || typeof step.index !== 'number') continue
      const c = counts.get(str(step.image) ?? '')
      if (c === undefined || !('count' in c) || step.index <= c.count) continue
      r.error(['taskSequences', ti, 'steps', si, 'index'],
        `index ${step.index} is beyond image '${String(step.image)}', whose WIM holds ${c.count} image${c.count === 1 ? '' : 's'}`,
        `use an index from 1 to ${c.count}; \`wiminfo\` lists them`)
    }
  }
  const tftp = section(data, 'tftp')
  const root = str(tftp.root)
  if (tftp.enabled !== false && root !== undefined) {
    const abs = resolve(cwd, root)
    const ok = await stat(abs).then(s => s.isDirectory(), () => false)
    if (!ok) r.warn(['tftp', 'root'], `TFTP root ${abs} is not a directory`, 'install Debian\'s ipxe package (/usr/lib/ipxe) or point tftp.root at your boot loaders')
  }
  const loaders = section(data, 'bootLoaders')
  if (loaders.secureBoot === true) {
    const dir = resolve(cwd, str(loaders.secureBootDir) ?? DEFAULT_SECURE_BOOT_DIR)
    const missing = await missingChainFiles(dir)
    if (missing.length > 0) {
      r.warn(['bootLoaders', 'secureBoot'], `Secure Boot chain incomplete: no ${missing.join(' or ')} in ${dir}`,
        'run scripts/fetch-trixie-loaders.sh (or point bootLoaders.secureBootDir at shimx64.efi and grubx64.efi)')
    }
  }
}
