// Whether a machine can boot the PE a deployment needs: read from paths.pe and paths.winpe, so not pure; the
// boot route asks before it begins a deployment, whatif before it says "deploy".
import type { AppConfig, Arch, TaskSequence } from '../config/schema.js'
import { PE_ARCHES, peArchFor, peBuildCommand, peDirFor, type PeArch } from './arch.js'
import { builtPe } from './build.js'

/** What runs the boot scripts: iPXE, or GRUB in the Secure Boot chain (bootLoaders.secureBoot), which cannot start WinPE. */
export type ScriptLoader = 'ipxe' | 'grub'

/** Why a machine booted through shim and GRUB cannot start a WinPE deployment. */
export const WINPE_NEEDS_IPXE = 'WinPE starts through iPXE\'s wimboot, which Secure Boot does not allow (this machine booted the Secure Boot chain)'

/** The loader a machine of this arch is given when it PXE-boots (src/dhcp/proxy.ts bootFileFor): for whatif. */
export function loaderFor (cfg: AppConfig, arch: Arch): ScriptLoader {
  return cfg.bootLoaders.secureBoot && (arch === 'efi-x64' || arch === 'efi-x64-http') ? 'grub' : 'ipxe'
}

/** The PE to boot, or why there is none (`missing`: one line for the machine's console; `detail`: for the log). */
export type PeChoice = { arch: PeArch | 'winpe' } | { missing: string, detail?: string }

/** Which PEs are built under paths.pe (for the log at start-up). */
export function peStatus (cfg: AppConfig): Array<{ arch: PeArch, dir: string, built: boolean }> {
  return PE_ARCHES.map(arch => {
    const dir = peDirFor(cfg.paths.pe, arch)
    return { arch, dir, built: builtPe(dir) !== undefined }
  })
}

/** The task sequence asks for WinPE (variable PE: winpe) and the admin supplied one (paths.winpe). */
export function wantsWinpe (cfg: AppConfig, ts: TaskSequence): boolean {
  return cfg.paths.winpe !== undefined && ts.variables?.PE?.toLowerCase() === 'winpe'
}

/**
 * WinPE through wimboot is set up for x86-64 machines; the Linux PE exists for amd64 and arm64 (arch.ts) and must
 * have been built for the machine's one.
 */
export async function peForDeployment (cfg: AppConfig, arch: Arch, ts: TaskSequence, loader: ScriptLoader = 'ipxe'): Promise<PeChoice> {
  const pe = peArchFor(arch)
  if (wantsWinpe(cfg, ts)) {
    if (pe !== 'amd64') return { missing: `the task sequence boots WinPE, which is set up for x86-64 machines; this one is ${arch}` }
    return loader === 'grub' ? { missing: WINPE_NEEDS_IPXE, detail: 'the machine booted through shim and GRUB' } : { arch: 'winpe' }
  }
  if (pe === undefined) return { missing: `no PE for ${arch} machines (the Linux PE is built for x86-64 and arm64)` }
  const dir = peDirFor(cfg.paths.pe, pe)
  if (builtPe(dir) === undefined) return { missing: `the ${pe} PE is not built on the appliance (${peBuildCommand(pe)})`, detail: `no vmlinuz/initrd.img in ${dir}` }
  return { arch: pe }
}

/** For whatif: why a "deploy" decision would not start on this machine now (undefined when it would). */
export async function deployBlocked (cfg: AppConfig, arch: Arch, d: { kind: string, taskSequence?: TaskSequence }): Promise<string | undefined> {
  if (d.kind !== 'deploy' || d.taskSequence === undefined) return undefined
  const pe = await peForDeployment(cfg, arch, d.taskSequence, loaderFor(cfg, arch))
  return 'missing' in pe ? pe.missing : undefined
}
