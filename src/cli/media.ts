// `netboot media build --capture …`: capture media (a hybrid BIOS/UEFI ISO that boots the PE in capture mode).
import type { CliCommand } from './command.js'
import { loadConfigFile, EMBEDDED_CONFIG_PATH } from '../config/load.js'
import { buildCaptureMedia, type CaptureMediaOptions } from '../images/media.js'

const usage = `usage: netboot media build --capture [--url URL] [--token T] [--out FILE.iso] [--image ID]
                                  [--volume auto|/dev/…] [--compression none|xpress|lzx|lzms] [--serial]
                                  [--no-secure-boot]

Builds capture media: an ISO (also bootable from a USB stick) for BIOS and UEFI machines, Secure Boot
included, with GRUB and the Linux PE (paths.pe; build it first with \`netboot pe build\`). Booted on a
reference computer, it captures the largest NTFS volume (or --volume) with wimcapture and uploads it to the
appliance, where it appears in \`netboot images list\` as --image, or capture-YYYYMMDD-HHMMSS.

  --url URL       the appliance as the captured computer reaches it (default: the config's HTTP base URL)
  --token T       capture token (default: http.captureToken; the appliance accepts only its own)
  --out FILE      the ISO to write (default: netboot-capture.iso)
  --serial        PE console on the serial port (headless servers, the QEMU lab)
  --no-secure-boot  UEFI boots Debian's unsigned GRUB; by default it boots shim and Debian's signed GRUB from
                  bootLoaders.secureBootDir (scripts/fetch-trixie-loaders.sh), which Secure Boot accepts
  --config FILE   the appliance config (default: ${EMBEDDED_CONFIG_PATH})`

const COMPRESSIONS = ['none', 'xpress', 'lzx', 'lzms']

export const command: CliCommand = {
  name: 'media',
  summary: 'build capture media (BIOS/UEFI ISO that captures a reference computer)',
  usage,
  async run (argv, io) {
    const [verb, ...rest] = argv
    if (verb !== 'build') { io.err(usage); return 2 }
    const o: CaptureMediaOptions = { onLine: l => io.out(l) }
    let capture = false
    let config = EMBEDDED_CONFIG_PATH
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i]
      const v = (): string => {
        const x = rest[++i]
        if (x === undefined) throw new Error(`${a} needs a value`)
        return x
      }
      if (a === '--capture') capture = true
      else if (a === '--serial') o.serial = true
      else if (a === '--no-secure-boot') o.secureBoot = false
      else if (a === '--url') o.url = v()
      else if (a === '--token') o.token = v()
      else if (a === '--out') o.out = v()
      else if (a === '--image') o.image = v()
      else if (a === '--volume') o.volume = v()
      else if (a === '--config') config = v()
      else if (a === '--compression') {
        const c = v()
        if (!COMPRESSIONS.includes(c)) { io.err(`netboot media: --compression must be one of ${COMPRESSIONS.join(', ')}`); return 2 }
        o.compression = c as CaptureMediaOptions['compression']
      } else { io.err(`netboot media: unknown option '${a}'\n${usage}`); return 2 }
    }
    if (!capture) { io.err(`netboot media build: only --capture media exist so far\n${usage}`); return 2 }
    const r = await loadConfigFile(config, { checkFiles: false })
    if (!r.ok) {
      for (const e of r.errors) io.err(`${e.file}:${e.line}:${e.column}: ${e.message}`)
      return 1
    }
    const { iso, size, secureBoot } = await buildCaptureMedia(r.config, o)
    io.out(`capture media: ${iso} (${(size / 1048576).toFixed(1)} MiB) — boot it on the reference computer (BIOS or UEFI${secureBoot ? ', Secure Boot on or off' : ', Secure Boot off'}, CD or USB stick)`)
    return 0
  }
}
