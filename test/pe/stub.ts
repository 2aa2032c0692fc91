// A stand-in appliance for developing and testing the PE runner alone: serves one ResolvedTaskSequence,
// files with Range support (optionally dropping the first connection of a file midway), and records what
// the runner posts. The end-to-end tests use the real appliance instead.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { open, stat } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import type { DeploymentResult, ResolvedTaskSequence, StepStatus } from '../../src/deployments/types.js'

export interface StubOptions {
  token: string
  taskSequence: ResolvedTaskSequence
  /** URL path → local file */
  files: Record<string, string>
  /** destroy the first response of each file after this many bytes (exercises resume) */
  dropAfterBytes?: number
}

export interface Stub {
  port: number
  statuses: StepStatus[]
  logs: string[]
  results: DeploymentResult[]
  /** requests seen: "METHOD path range?" */
  requests: string[]
  /** responses cut off on purpose (dropAfterBytes) */
  drops: string[]
  waitForResult (timeoutMs: number): Promise<DeploymentResult>
  close (): Promise<void>
}

async function body (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export async function startStub (opts: StubOptions): Promise<Stub> {
  const stub: Omit<Stub, 'port' | 'close' | 'waitForResult'> = { statuses: [], logs: [], results: [], requests: [], drops: [] }
  const dropped = new Set<string>()
  const waiters: Array<(r: DeploymentResult) => void> = []

  async function serveFile (req: IncomingMessage, res: ServerResponse, path: string, file: string): Promise<void> {
    const size = (await stat(file)).size
    let start = 0
    let end = size - 1
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '')
    if (m !== null) {
      if (m[1] === '') { start = Math.max(0, size - Number(m[2])) } else { start = Number(m[1]); if (m[2] !== '') end = Math.min(end, Number(m[2])) }
      if (start > end || start >= size) { res.writeHead(416, { 'content-range': `bytes */${size}` }).end(); return }
      res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1, 'accept-ranges': 'bytes' })
    } else {
      res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes' })
    }
    if (req.method === 'HEAD') { res.end(); return }
    const fh = await open(file)
    try {
      let pos = start
      let sent = 0
      const drop = opts.dropAfterBytes !== undefined && !dropped.has(path) && end - start + 1 > opts.dropAfterBytes
      while (pos <= end) {
        const n = Math.min(65536, end - pos + 1)
        const { bytesRead, buffer } = await fh.read(Buffer.alloc(n), 0, n, pos)
        if (drop && sent + bytesRead > (opts.dropAfterBytes ?? 0)) {
          dropped.add(path); stub.drops.push(`${path} ${start}-${end}`)
          res.write(buffer.subarray(0, (opts.dropAfterBytes ?? 0) - sent))
          res.socket?.destroy()        // a dropped connection in the middle of the body
          return
        }
        if (!res.write(buffer.subarray(0, bytesRead))) await new Promise(r => res.once('drain', r))
        pos += bytesRead; sent += bytesRead
      }
      res.end()
    } finally { await fh.close() }
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    stub.requests.push(`${req.method ?? ''} ${path}${req.headers.range !== undefined ? ` ${req.headers.range}` : ''}`)
    void (async () => {
      if (path.startsWith('/pe/v1/') && req.headers.authorization !== `Bearer ${opts.token}`) { res.writeHead(401).end(); return }
      if (path === '/pe/v1/task-sequence') { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(opts.taskSequence)); return }
      if (path === '/pe/v1/status') { stub.statuses.push(JSON.parse(await body(req)) as StepStatus); res.writeHead(204).end(); return }
      if (path === '/pe/v1/log') { stub.logs.push(await body(req)); res.writeHead(204).end(); return }
      if (path === '/pe/v1/result') {
        const r = JSON.parse(await body(req)) as DeploymentResult
        stub.results.push(r); res.writeHead(204).end()
        for (const w of waiters.splice(0)) w(r)
        return
      }
      const file = opts.files[path]
      if (file !== undefined) { await serveFile(req, res, path, file); return }
      res.writeHead(404).end()
    })().catch(() => { res.destroy() })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    ...stub,
    port: (server.address() as AddressInfo).port,
    async waitForResult (timeoutMs) {
      if (stub.results[0] !== undefined) return stub.results[0]
      return await new Promise((resolve, reject) => {
        const t = setTimeout(() => { reject(new Error(`no result from the PE within ${timeoutMs} ms`)) }, timeoutMs)
        waiters.push((r) => { clearTimeout(t); resolve(r) })
      })
    },
    async close () {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}
