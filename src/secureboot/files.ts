// The Secure Boot chain's files as the network sees them (bootLoaders.secureBoot): shim, GRUB and MokManager from
// bootLoaders.secureBootDir under `secureboot/`, and GRUB's entry config under `grub/`. The same names over TFTP
// (virtual files, src/tftp/service.ts) and HTTP (routes/files.ts, routes/boot.ts).
import type { AppConfig } from '../config/schema.js'

/** The directory the chain is served from (TFTP and HTTP): `secureboot/shimx64.efi`, … */
export const SECURE_BOOT_PREFIX = 'secureboot'

/**
 * shimx64.efi is what the firmware loads; shim then asks for grubx64.efi next to itself (and mmx64.efi, MokManager,
 * only when a MOK change is pending). Shim 16 also probes for revocations_sku.efi, revocations_sbat.efi and
 * shim_certificate_0.efi, optional files that are answered "not found".
 */
export const SECURE_BOOT_FILES: readonly string[] = ['shimx64.efi', 'grubx64.efi', 'mmx64.efi']

/** Where GRUB's network image looks for its config: $prefix/grub.cfg (2.12) and $prefix/x86_64-efi/grub.cfg (2.06). */
export const GRUB_ENTRY_PATHS: readonly string[] = ['grub/grub.cfg', 'grub/x86_64-efi/grub.cfg']

/** The TFTP path or URL path (no leading slash) of the first stage the firmware loads. */
export const SHIM_PATH = `${SECURE_BOOT_PREFIX}/shimx64.efi`

/**
 * The file name inside secureBootDir a request path names (`secureboot/grubx64.efi` → `grubx64.efi`), any case.
 * Shim over HTTP Boot asks for `secureboot//grubx64.efi` (httpboot.c joins its own directory, which ends in a slash,
 * with "/grubx64.efi"): repeated slashes count as one.
 */
export function secureBootFileFor (path: string): string | undefined {
  const m = /^\/*secureboot\/+([^/]+)$/i.exec(path)
  if (m === null) return undefined
  const name = (m[1] ?? '').toLowerCase()
  return SECURE_BOOT_FILES.includes(name) ? name : undefined
}

/** The loader paths the admin named under bootLoaders (the TFTP root's trusted links): the string-valued ones. */
export function namedLoaderPaths (l: AppConfig['bootLoaders']): string[] {
  return [l.bios, l.efiIa32, l.efiX64, l.efiArm64, l.httpX64, l.httpArm64]
}
