// The DHCP gate: asked before the DHCP side answers a PXE client. `dhcp.answer: all` answers every PXE client
// (unknown ones are inventoried and boot locally); `known` answers only machines a collection names by member or
// non-unknown rule, or that are in the inventory — so on a shared segment another PXE server keeps the rest.
import type { AppContext } from '../service.js'
import type { ClientIdentity, DhcpGate } from './types.js'
import { isKnown } from './decide.js'

export function createDhcpGate (ctx: AppContext): DhcpGate {
  const log = ctx.log.child({ proto: 'policy' })
  return {
    async shouldAnswer (client: ClientIdentity): Promise<true | string> {
      const cfg = ctx.config.current()
      if (cfg.dhcp.answer === 'all') return true
      let machine
      try {
        machine = await ctx.store.machines.get(client.mac)
      } catch (err) {
        // Stay silent: the firmware retries, and answering blindly could hijack a machine we must not boot.
        log.warn({ err, mac: client.mac }, 'DHCP gate: state store unavailable, not answering')
        return 'store unavailable'
      }
      if (isKnown(cfg, client, machine)) return true
      return 'unknown machine (dhcp.answer is "known": not in a collection by member or rule, not in the inventory)'
    }
  }
}
