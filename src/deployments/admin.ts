// Admin operations on machines and deployments (admin API and `netboot machines|deployments`).
import type { AppContext } from '../service.js'
import type { Deployment, DeploymentEvent, Machine } from '../store/types.js'
import { BadRequestError, NotFoundError } from '../errors.js'
import { normalizeMac } from '../config/ids.js'
import { isEnded } from './state.js'

export interface DeploymentsAdmin {
  /**
   * ConfigMgr's "clear required PXE deployments": deployments that ended before now no longer count, so the
   * machine's required advertisements run again on its next PXE boot. Records an event on each of them.
   */
  reimage (mac: string): Promise<Machine>
  /** Set or clear the admin flag that keeps required deployments off this machine (site servers). */
  protect (mac: string, on: boolean): Promise<Machine>
  list (): Promise<Deployment[]>
  get (id: string): Promise<Deployment | undefined>
  /** Events of one deployment in order; NotFoundError when there is no such deployment. */
  events (id: string): Promise<DeploymentEvent[]>
}

type EventFn = (d: Deployment, type: string, extra?: { message?: string }) => Promise<void>

function macOf (s: string): string {
  const mac = typeof s === 'string' ? normalizeMac(s) : undefined
  if (mac === undefined) throw new BadRequestError(`not a MAC address: ${String(s)}`)
  return mac
}

export function createAdmin (ctx: AppContext, event: EventFn): DeploymentsAdmin {
  const { store } = ctx
  const log = ctx.log.child({ proto: 'deployments' })

  async function machine (mac: string): Promise<Machine> {
    const m = await store.machines.get(mac)
    if (m === undefined) {
      throw new NotFoundError(`no machine ${mac} in the inventory (it has never booted here); to protect a machine before its first boot, list it under \`protected:\` in the config`)
    }
    return m
  }

  return {
    async reimage (given) {
      const mac = macOf(given)
      await machine(mac)
      const at = ctx.clock.now().toISOString()
      const m = await store.machines.update(mac, { reimageAfter: at })
      for (const d of await store.deployments.listByMachine(mac)) {
        if (isEnded(d.state)) await event(d, 'reimage', { message: `admin re-image at ${at}: this deployment no longer counts` })
      }
      log.info({ mac, reimageAfter: at }, 'machine marked for re-image')
      return m
    },

    async protect (given, on) {
      const mac = macOf(given)
      await machine(mac)
      const m = await store.machines.update(mac, { protected: on ? true : undefined })
      log.info({ mac, protected: on }, on ? 'machine protected' : 'machine unprotected')
      return m
    },

    async list () {
      return await store.deployments.list()
    },

    async get (id) {
      return typeof id === 'string' && id !== '' ? await store.deployments.get(id) : undefined
    },

    async events (id) {
      const d = typeof id === 'string' && id !== '' ? await store.deployments.get(id) : undefined
      if (d === undefined) throw new NotFoundError(`no deployment ${String(id)}`)
      return await store.deployments.events(id)
    }
  }
}
