// The TFTP service as app.ts sees it: createService(ctx) → Service, or undefined when tftp.enabled is false.
// Settings are read from ctx.config.current() on every request, so a reload of tftp.root, limits, timeouts,
// cache size or option bounds applies to the next transfer. ports.tftp / server.bind / tftp.enabled need a
// restart (the listening socket is bound once).
import type { AppContext, Service } from '../service.js'
import { TftpServer } from './server.js'
import { namedLoaderPaths } from '../secureboot/files.js'
import { registerSecureBootFiles } from '../secureboot/tftp.js'
import { defaultVirtualFiles, type VirtualFiles, type VirtualHandler, type VirtualMatcher } from './virtual.js'

export interface TftpService extends Service {
  readonly name: 'tftp'
  readonly server: TftpServer
  /** the bound address and port once started (port 0 in config means an ephemeral port: tests) */
  address (): { address: string, port: number } | undefined
  /** Serves generated content for matching paths (see virtual.ts); returns an unregister function. */
  registerVirtualFile (matcher: VirtualMatcher, handler: VirtualHandler): () => void
}

export interface TftpServiceOptions {
  /** defaults to defaultVirtualFiles, the registry other parts of the appliance register into */
  virtual?: VirtualFiles
  /** see TftpServerDeps.twinSockets (tests) */
  twinSockets?: boolean
}

export function createTftpService (ctx: AppContext, opts: TftpServiceOptions = {}): TftpService {
  const log = ctx.log.child({ proto: 'tftp' })
  const virtual = opts.virtual ?? defaultVirtualFiles
  const server = new TftpServer({
    log,
    settings: () => ctx.config.current().tftp,
    namedPaths: () => namedLoaderPaths(ctx.config.current().bootLoaders),
    virtual,
    twinSockets: opts.twinSockets
  })
  let offSecureBoot = (): void => {}
  let bound: { address: string, port: number } | undefined
  return {
    name: 'tftp',
    server,
    address: () => bound,
    registerVirtualFile: (matcher, handler) => virtual.register(matcher, handler),
    async start () {
      const cfg = ctx.config.current()
      bound = await server.listen(cfg.server.bind, cfg.ports.tftp)
      // Registered once bound (a failed start leaves nothing behind), before any request can be read.
      offSecureBoot = registerSecureBootFiles(virtual, () => ctx.config.current(), server.cache)
      log.info({ address: bound.address, port: bound.port, root: cfg.tftp.root }, 'tftp listening')
    },
    async stop () {
      offSecureBoot()
      await server.close()
      bound = undefined
    }
  }
}

export function createService (ctx: AppContext): Service | undefined {
  if (!ctx.config.current().tftp.enabled) return undefined
  return createTftpService(ctx)
}
