// Virtual files: generated, per-client content served over TFTP (an iPXE script, a per-machine config, a
// boot menu) without a file on disk.
//
// Usage from another part of the appliance:
//   import { defaultVirtualFiles } from '../tftp/virtual.js'
//   const off = defaultVirtualFiles.register('boot.ipxe', async ({ path, client }) => Buffer.from(render(client)))
//   const off2 = defaultVirtualFiles.register(/^pxelinux\.cfg\/01-([0-9a-f-]+)$/, async req => lookup(req.path))
//   off()  // unregister
// or through the service: (service as TftpService).registerVirtualFile(matcher, handler).
//
// Rules: the path handed to matchers and handlers is the normalized request path (backslashes turned into
// slashes, leading slashes removed, `..` and control characters already refused: a virtual file can never be
// reached by a traversal). A string matcher matches that path ignoring case; a RegExp is tested against it.
// Handlers are asked in registration order; the first Buffer wins; undefined means "not mine", and the request
// falls through to the next handler and then to the TFTP root. A handler that throws is answered with
// ERROR 0 and logged, and the next request asks it again. Handlers should answer within a second or two:
// firmware retransmits its RRQ meanwhile (duplicates are ignored while the first one is being answered).

export interface VirtualRequest {
  /** normalized request path, e.g. `pxelinux.cfg/default` */
  path: string
  client: { address: string, port: number }
}

export type VirtualHandler = (req: VirtualRequest) => Promise<Buffer | undefined>
export type VirtualMatcher = string | RegExp

interface Registration { matcher: VirtualMatcher, handler: VirtualHandler }

export class VirtualFiles {
  private regs: Registration[] = []

  /** Adds a handler; returns a function that removes it. */
  register (matcher: VirtualMatcher, handler: VirtualHandler): () => void {
    const reg = { matcher, handler }
    this.regs = [...this.regs, reg]
    return () => { this.regs = this.regs.filter(r => r !== reg) }
  }

  get count (): number { return this.regs.length }

  /** The generated content for `req`, or undefined when no handler claims the path. */
  async resolve (req: VirtualRequest): Promise<Buffer | undefined> {
    for (const { matcher, handler } of this.regs) {
      if (!matches(matcher, req.path)) continue
      const buf = await handler(req)
      if (buf !== undefined) return buf
    }
    return undefined
  }
}

function matches (m: VirtualMatcher, path: string): boolean {
  if (typeof m === 'string') return m.replace(/\\/g, '/').replace(/^\/+/, '').toLowerCase() === path.toLowerCase()
  m.lastIndex = 0 // a /g or /y RegExp keeps state between test() calls
  return m.test(path)
}

/** The registry the app's TFTP service uses (createService). Tests build their own VirtualFiles. */
export const defaultVirtualFiles = new VirtualFiles()
