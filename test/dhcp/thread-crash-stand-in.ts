// A stand-in for src/dhcp/thread/thread-main.ts (test/dhcp/thread.test.ts): it reports itself started, then dies of
// an uncaught exception, as a bug in the DHCP thread would.
import { parentPort } from 'node:worker_threads'
import { readlinkSync } from 'node:fs'

const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
parentPort?.postMessage({ type: 'started', ports: { dhcp: 1067, proxyDhcp: 14011 }, tid })
setTimeout(() => { throw new Error('stand-in DHCP thread bug') }, 50)
