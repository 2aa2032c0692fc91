// PLACEHOLDER until the image-store issue lands.
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../service.js'

export default async function routes (_app: FastifyInstance, _opts: { ctx: AppContext }): Promise<void> {}
