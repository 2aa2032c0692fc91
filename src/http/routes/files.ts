// Boot files over HTTP: loaders (the TFTP root), the Linux PE, WinPE files and file packages. Every path a
// client sends goes through resolveInside (no `..`, no backslash, no NUL, no symlink out of the root).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AppConfig } from '../../config/schema.js'
import type { AppContext } from '../../service.js'
import { FileMissingError } from '../errors.js'
import { resolveInside } from '../safe-path.js'
import { sendFile } from '../send-file.js'
import { SECURE_BOOT_FILES, SECURE_BOOT_PREFIX, namedLoaderPaths, secureBootFileFor } from '../../secureboot/files.js'
import { PE_ARCHES, peBuildCommand, peDirFor, peUrlPath } from '../../pe/arch.js'

type Wild = FastifyRequest<{ Params: { '*': string } }>

export default async function fileRoutes (app: FastifyInstance, { ctx }: { ctx: AppContext }): Promise<void> {
  const cfg = (): AppConfig => ctx.config.current()
  // GET and HEAD explicitly: fastify's automatic HEAD route would read the whole stream and send length 0.
  const get = (url: string, handler: (req: Wild, reply: FastifyReply) => Promise<FastifyReply>) =>
    app.route({ method: ['GET', 'HEAD'], url, handler })

  // The loaders named under bootLoaders (UEFI HTTP Boot fetches them here) may be links out of the TFTP root.
  get('/loaders/*', async (req: Wild, reply) => {
    const rel = req.params['*']
    const named = namedLoaderPaths(cfg().bootLoaders).includes(rel)
    return await sendFile(req, reply, await resolveInside(cfg().tftp.root, rel, '', named))
  })

  // The Secure Boot chain (UEFI HTTP Boot with bootLoaders.secureBoot): shim, then GRUB next to it.
  get(`/${SECURE_BOOT_PREFIX}/*`, async (req: Wild, reply) => {
    const name = secureBootFileFor(`${SECURE_BOOT_PREFIX}/${req.params['*']}`)
    const dir = cfg().bootLoaders.secureBootDir
    if (name === undefined) throw new FileMissingError(`the Secure Boot chain has ${SECURE_BOOT_FILES.join(', ')} only`)
    return await serve(req, reply, dir, name, ` in ${dir}: run scripts/fetch-trixie-loaders.sh (or set bootLoaders.secureBootDir)`)
  })

  // The Linux PE of each architecture: /pe/* from paths.pe (amd64), /pe/arm64/* from paths.pe/arm64; localboot.efi is
  // the standalone GRUB built with it, which iPXE chains on UEFI machines told to boot locally (src/ipxe/script.ts).
  for (const arch of PE_ARCHES) {
    const hint = ` in the ${arch} PE directory: run \`${peBuildCommand(arch)}\` (or set paths.pe)`
    for (const name of ['vmlinuz', 'initrd.img', 'localboot.efi']) {
      get(`${peUrlPath(arch)}/${name}`, async (req, reply) => await serve(req, reply, peDirFor(cfg().paths.pe, arch), name, hint))
    }
  }

  get('/winpe/*', async (req: Wild, reply) => {
    const dir = cfg().paths.winpe
    if (dir === undefined) throw new FileMissingError('WinPE is not configured: set paths.winpe to a directory holding wimboot, BCD, boot.sdi and boot.wim')
    return await serve(req, reply, dir, req.params['*'])
  })

  get('/files/*', async (req: Wild, reply) => await serve(req, reply, cfg().paths.files, req.params['*']))
}

async function serve (req: FastifyRequest, reply: FastifyReply, root: string, rel: string, hint = ''): Promise<FastifyReply> {
  const file = await resolveInside(root, rel, hint)
  return await sendFile(req, reply, file)
}
