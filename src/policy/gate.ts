// PLACEHOLDER until the policy issue lands: answers every PXE client.
import type { AppContext } from '../service.js'
import type { DhcpGate } from './types.js'

export function createDhcpGate (_ctx: AppContext): DhcpGate {
  return { shouldAnswer: async () => true }
}
