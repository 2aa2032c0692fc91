// `netboot pe build`: build the Linux PE (kernel + initramfs from Debian packages) into paths.pe, or for arm64
// into paths.pe/arm64 (peDirFor, where the HTTP server serves /pe/arm64/ from).
import { resolve } from 'node:path'
import type { CliCommand, CliIO } from './command.js'
import { loadConfigFile } from '../config/load.js'
import { buildPe } from '../pe/build.js'
import { PE_ARCHES, peDirFor, type PeArch } from '../pe/arch.js'

const usage = `usage: netboot pe build [--arch amd64|arm64] [--config FILE] [--out DIR] [--cache DIR] [--force]

Builds the Linux PE that deploys task sequences: the Debian kernel that linux-image-ARCH depends on
(apt-get download, never installed on this host) with its network/storage/filesystem modules, and an
initramfs of busybox, wimlib (wimapply, NTFS-3G), ntfs-3g, sfdisk, mkfs.fat, curl, jq, httpfs2 and the
task-sequence runner (boot/pe/runner.sh). Rebuilt only when its inputs change.

  --arch ARCH     amd64 (default: BIOS and x64 UEFI machines) or arm64 (arm64 UEFI machines): Debian bookworm's
                  arm64 packages, fetched by apt in a private state under the cache dir (the host's apt and dpkg
                  configuration are not touched)
  --config FILE   take the output directory from this config's paths.pe
  --out DIR       output directory (default: paths.pe of --config, else boot/pe/build; with --arch arm64 the
                  arm64/ directory under it, which the appliance serves as /pe/arm64/)
  --cache DIR     cache for the packages (default /var/cache/netboot-pe)
  --force         rebuild even if nothing changed
Needs root (apt-get download, depmod) and the packages of scripts/install-deps.sh (arm64: also binutils).`

interface Args { out?: string, config?: string, cache?: string, arch: PeArch, force: boolean }

function parse (argv: string[], io: CliIO): Args | undefined {
  const a: Args = { force: false, arch: 'amd64' }
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i]
    const next = (): string | undefined => argv[++i]
    if (v === '--force') a.force = true
    else if (v === '--out') a.out = next()
    else if (v === '--config') a.config = next()
    else if (v === '--cache') a.cache = next()
    else if (v === '--arch') {
      const arch = next()
      if (!PE_ARCHES.includes(arch as PeArch)) { io.err(`netboot pe: --arch must be ${PE_ARCHES.join(' or ')} (got '${arch ?? ''}')`); return undefined }
      a.arch = arch as PeArch
    }
    else { io.err(`netboot pe: unknown option '${v ?? ''}'`); io.err(usage); return undefined }
  }
  return a
}

async function outDir (a: Args, io: CliIO): Promise<string | undefined> {
  if (a.out !== undefined) return resolve(a.out)
  if (a.config === undefined) return peDirFor(resolve('boot/pe/build'), a.arch)
  const r = await loadConfigFile(a.config, { checkFiles: false })
  if (!r.ok) {
    for (const e of r.errors) io.err(`${e.file}:${e.line}:${e.column}: ${e.message}`)
    return undefined
  }
  return peDirFor(r.config.paths.pe, a.arch)
}

export const command: CliCommand = {
  name: 'pe',
  summary: 'build the Linux PE (kernel + initramfs from Debian packages)',
  usage,
  async run (argv, io) {
    const [verb, ...rest] = argv
    if (verb !== 'build') { io.err(usage); return 2 }
    const a = parse(rest, io)
    if (a === undefined) return 2
    const out = await outDir(a, io)
    if (out === undefined) return 1
    const r = await buildPe({ outDir: out, arch: a.arch, force: a.force, cacheDir: a.cache, onLine: (l) => { io.out(l) } })
    io.out(r.upToDate ? `PE up to date in ${out} (${a.arch})` : `PE built (${a.arch}): ${r.vmlinuz}, ${r.initrd}`)
    return 0
  }
}
