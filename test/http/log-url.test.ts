// What the HTTP log may show of a URL.
import t from 'tap'
import { safeUrl } from '../../src/http/log-url.js'

t.test('URLs are logged without their secrets', async t => {
  t.equal(safeUrl('/pe/v1/winpe/netboot.ini?token=abc'), '/pe/v1/winpe/netboot.ini?token=***')
  t.equal(safeUrl('/boot/select?adv=a&mac=m&password=open%20sesame'), '/boot/select?adv=a&mac=m&password=***')
  t.equal(safeUrl('/boot/decide?mac=m&uuid=u'), '/boot/decide?mac=m&uuid=u')
})
