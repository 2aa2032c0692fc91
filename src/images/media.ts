// Capture media: `netboot media build --capture` → a hybrid BIOS/UEFI ISO (boot/media/build-capture-iso.sh,
// GRUB and xorriso from Debian) that boots the Linux PE from paths.pe with netboot.mode=capture. Its UEFI boot is
// the Secure Boot chain (shim → Debian's signed GRUB CD image → the PE's signed kernel) when bootLoaders.secureBootDir
// holds those loaders (scripts/fetch-trixie-loaders.sh), else Debian's unsigned GRUB, and the build says which.
import { spawn } from 'node:child_process'
import { stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AppConfig } from '../config/schema.js'
import { NetbootError } from '../errors.js'
import { IMAGE_ID_RE } from './store.js'

export interface CaptureMediaOptions {
  /** appliance URL the PE uploads to (default: the config's httpBaseUrl) */
  url?: string
  /** capture token (default: http.captureToken) */
  token?: string
  out?: string
  /** fixed image id (default: the PE makes capture-YYYYMMDD-HHMMSS) */
  image?: string
  volume?: string
  compression?: 'none' | 'xpress' | 'lzx' | 'lzms'
  /** serial console last (the PE's /dev/console), for headless machines and the QEMU lab */
  serial?: boolean
  /** false: UEFI boots the unsigned GRUB even when the signed loaders are there (default: signed when there) */
  secureBoot?: boolean
  onLine?: (line: string) => void
}

export const MediaError = class extends NetbootError {
  constructor (message: string) { super('NB_ERR_MEDIA', message, 400) }
}

const SCRIPT = fileURLToPath(new URL('../../boot/media/build-capture-iso.sh', import.meta.url))
/** What may go on the kernel command line unquoted: no whitespace, quotes, `$`, `;` or backslashes. */
const URL_RE = /^https?:\/\/[A-Za-z0-9.:[\]_~%@!&*+,=/?-]+$/
const TOKEN_RE = /^[A-Za-z0-9._~+/=:-]{8,256}$/
const VOLUME_RE = /^(auto|\/dev\/[A-Za-z0-9/_.-]+)$/

/** Checks and defaults every value that goes on the ISO's kernel command line. Pure. */
export function captureMediaArgs (cfg: Pick<AppConfig, 'httpBaseUrl' | 'http' | 'paths'>, o: CaptureMediaOptions): string[] {
  const url = (o.url ?? cfg.httpBaseUrl).replace(/\/+$/, '')
  if (!URL_RE.test(url)) throw new MediaError(`--url ${JSON.stringify(url)} is not an http(s) URL without spaces or quotes`)
  if (/^https?:\/\/(127\.|localhost|\[::1\])/.test(url)) {
    throw new MediaError(`--url ${url} is a loopback address: the captured computer could not reach it (set server.address or --url)`)
  }
  const token = o.token ?? cfg.http.captureToken
  if (token === undefined || token === '') {
    throw new MediaError('no capture token: set http.captureToken in the config (the appliance must know it) or pass --token')
  }
  if (!TOKEN_RE.test(token)) throw new MediaError('the capture token must be 8-256 characters of A-Z a-z 0-9 . _ ~ + / = : -')
  const args = ['--url', url, '--token', token,
    '--kernel', join(cfg.paths.pe, 'vmlinuz'), '--initrd', join(cfg.paths.pe, 'initrd.img'),
    '--out', resolve(o.out ?? 'netboot-capture.iso')]
  if (o.image !== undefined) {
    if (!IMAGE_ID_RE.test(o.image)) throw new MediaError(`--image ${JSON.stringify(o.image)} is not a valid image id`)
    args.push('--image', o.image)
  }
  if (o.volume !== undefined) {
    if (!VOLUME_RE.test(o.volume)) throw new MediaError('--volume must be auto or a /dev/… path')
    args.push('--volume', o.volume)
  }
  if (o.compression !== undefined) args.push('--compression', o.compression)
  if (o.serial === true) args.push('--serial')
  return args
}

/** What the ISO's UEFI boot runs with Secure Boot: shim, its MokManager, Debian's signed GRUB CD image. */
export const CAPTURE_MEDIA_SECURE_BOOT_FILES = ['shimx64.efi', 'mmx64.efi', 'gcdx64.efi'] as const

type MediaConfig = Pick<AppConfig, 'httpBaseUrl' | 'http' | 'paths'> & { bootLoaders?: Pick<AppConfig['bootLoaders'], 'secureBootDir'> }

/** The directory of the signed loaders when every one of them is there, else undefined (with what is missing). */
async function signedLoaders (dir: string | undefined): Promise<{ dir?: string, missing: string[] }> {
  if (dir === undefined) return { missing: [...CAPTURE_MEDIA_SECURE_BOOT_FILES] }
  const missing: string[] = []
  for (const f of CAPTURE_MEDIA_SECURE_BOOT_FILES) {
    const st = await stat(join(dir, f)).catch(() => undefined)
    if (st === undefined || !st.isFile() || st.size === 0) missing.push(f)
  }
  return missing.length === 0 ? { dir, missing } : { missing }
}

/** Builds the ISO; resolves with its path, size and UEFI chain. The PE must have been built (`netboot pe build`). */
export async function buildCaptureMedia (cfg: MediaConfig, o: CaptureMediaOptions): Promise<{ iso: string, size: number, secureBoot: boolean }> {
  const args = captureMediaArgs(cfg, o)
  for (const f of ['vmlinuz', 'initrd.img']) {
    await stat(join(cfg.paths.pe, f)).catch(() => {
      throw new MediaError(`the Linux PE is not built: ${join(cfg.paths.pe, f)} is missing (run: netboot pe build)`)
    })
  }
  const sbDir = cfg.bootLoaders?.secureBootDir
  const signed = o.secureBoot === false ? { missing: [] } : await signedLoaders(sbDir)
  if (signed.dir !== undefined) {
    args.push('--secure-boot', signed.dir)
    o.onLine?.(`media: UEFI boot: shim → Debian's signed GRUB → the PE's signed kernel (from ${signed.dir}): boots with Secure Boot on or off`)
  } else if (o.secureBoot === false) {
    o.onLine?.('media: UEFI boot: unsigned GRUB (--no-secure-boot): machines with Secure Boot on refuse it')
  } else {
    o.onLine?.(`media: warning: UEFI boot: unsigned GRUB, machines with Secure Boot on refuse it: no ${signed.missing.join(', ')} in ${sbDir ?? '(no bootLoaders.secureBootDir)'} (run scripts/fetch-trixie-loaders.sh)`)
  }
  const out = args[args.indexOf('--out') + 1]
  const err: string[] = []
  const code = await new Promise<number | null>((resolveExit, reject) => {
    const p = spawn('bash', [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    p.stdout.on('data', (d: Buffer) => { for (const l of d.toString().split('\n')) if (l !== '') o.onLine?.(l) })
    p.stderr.on('data', (d: Buffer) => { err.push(d.toString()) })
    p.on('error', reject)
    p.on('close', resolveExit)
  })
  if (code !== 0) throw new MediaError(err.join('').trim().split('\n').pop() ?? `build-capture-iso.sh exited with ${code}`)
  return { iso: out, size: (await stat(out)).size, secureBoot: signed.dir !== undefined }
}
