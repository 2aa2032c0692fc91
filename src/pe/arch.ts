// Which PE a machine can boot, by the architecture its firmware reported (DHCP option 93, or iPXE's ${buildarch}).
// Pure: no files. The Linux PE is built per Debian architecture (`netboot pe build [--arch arm64]`): amd64 into
// paths.pe, arm64 into paths.pe/arm64.
import { join } from 'node:path'
import type { Arch } from '../config/schema.js'

export const PE_ARCHES = ['amd64', 'arm64'] as const
export type PeArch = typeof PE_ARCHES[number]

/**
 * The PE architecture a client runs, or undefined when there is none:
 * - BIOS and x64 UEFI (PXE or HTTP Boot) boot the amd64 kernel through iPXE.
 * - arm64 UEFI (PXE or HTTP Boot) boots the arm64 kernel's EFI stub through iPXE's arm64 build.
 * - IA32 UEFI: iPXE's 32-bit EFI build cannot LoadImage an x86-64 EFI-stub kernel (the firmware refuses a PE32+
 *   image of another machine type), and no i386 PE is built: none.
 * - 32-bit ARM UEFI: none.
 */
export function peArchFor (arch: Arch): PeArch | undefined {
  switch (arch) {
    case 'bios': case 'efi-x64': case 'efi-x64-http': return 'amd64'
    case 'efi-arm64': case 'efi-arm64-http': return 'arm64'
    case 'efi-ia32': case 'efi-arm32': return undefined
  }
}

/** Where the PE of one architecture lives under paths.pe. */
export function peDirFor (base: string, arch: PeArch): string {
  return arch === 'amd64' ? base : join(base, arch)
}

/** The URL path (under httpBaseUrl) of that PE's files. */
export function peUrlPath (arch: PeArch): string {
  return arch === 'amd64' ? '/pe' : `/pe/${arch}`
}

/**
 * The PE's serial console: PCs have a 16550 at ttyS0; arm64 servers and QEMU's virt machine a PL011 at ttyAMA0
 * (machines whose UART is something else still get it from the ACPI SPCR table).
 */
export function peSerialConsole (arch: PeArch): string {
  return arch === 'amd64' ? 'ttyS0,115200' : 'ttyAMA0,115200'
}

/** The `netboot pe build` command that builds it (for messages to admins). */
export function peBuildCommand (arch: PeArch): string {
  return arch === 'amd64' ? 'netboot pe build' : `netboot pe build --arch ${arch}`
}
