// What GRUB's HTTP client (grub-core/net/http.c) needs from us, found with Debian's signed GRUB 2.12 in QEMU:
// - It matches response header names case-sensitively ("Content-Length: ", "Transfer-Encoding: chunked"), against
//   RFC 9110 §5.1 (field names are case-insensitive). fastify and Node write them in lower case; without a length
//   it saw, `configfile` gave up after its ~30 s network timeout and asked again, and the kernel never loaded.
// - It opens one connection per file and reads to its end: the connection is closed after each answer.
// - Booted by UEFI HTTP Boot, Debian's GRUB reads $prefix through the firmware's EFI_HTTP_PROTOCOL (User-Agent
//   "UefiHttpBoot/1.0", Debian's efi/http.c patch) and again looks for "Content-Length" case-sensitively: our
//   grub.cfg arrived empty and GRUB stopped at its prompt.
// So for a request whose User-Agent is GRUB's ("GRUB 2.12-9+deb13u4") or EDK2's HTTP Boot one, the response head is
// written with the usual capitalisation (Content-Length, Content-Type, …) and `Connection: close`. Every route
// benefits: the boot configs and the PE's kernel and initrd (send-file.ts writes its head through the same writeHead).
import type { FastifyInstance } from 'fastify'
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'

/** GRUB's own HTTP client, or EDK2's (which GRUB uses when it was HTTP-booted). */
export function wantsCanonicalHeaders (userAgent: string | undefined): boolean {
  return /^(GRUB\b|UefiHttpBoot\/)/.test(userAgent ?? '')
}

/** `content-length` → `Content-Length`. */
export function canonicalHeaderName (name: string): string {
  return name.split('-').map(p => p.charAt(0).toUpperCase() + p.slice(1).toLowerCase()).join('-')
}

export function canonicalHeaders (headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[canonicalHeaderName(k)] = v
  out.Connection = 'close'
  return out
}

export function registerGrubQuirks (app: FastifyInstance): void {
  app.addHook('onRequest', async (req, reply) => {
    if (!wantsCanonicalHeaders(req.headers['user-agent'])) return
    const res: ServerResponse = reply.raw
    const writeHead = res.writeHead.bind(res) as (status: number, ...rest: unknown[]) => ServerResponse
    // writeHead(status[, message][, headers]): headers set earlier with setHeader are renamed too.
    res.writeHead = ((status: number, ...rest: unknown[]) => {
      const held = res.getHeaders()
      for (const k of Object.keys(held)) res.removeHeader(k)
      const last = rest[rest.length - 1]
      const given = typeof last === 'object' && last !== null && !Array.isArray(last) ? last as OutgoingHttpHeaders : {}
      const message = typeof rest[0] === 'string' ? [rest[0]] : []
      return writeHead(status, ...message, canonicalHeaders({ ...held, ...given }))
    }) as typeof res.writeHead
  })
}
