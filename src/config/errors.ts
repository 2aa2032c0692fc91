// The config could not be loaded: carries every problem so main/serve can print them all.
import { NetbootError } from '../errors.js'
import { formatIssue, type ConfigIssue } from './issues.js'

export class ConfigInvalidError extends NetbootError {
  readonly issues: ConfigIssue[]
  constructor (file: string, issues: ConfigIssue[]) {
    const lines = issues.map(i => formatIssue(i)).join('\n')
    super('NB_ERR_CONFIG', `invalid config ${file}: ${issues.length} error${issues.length === 1 ? '' : 's'}\n${lines}`, 500)
    this.name = 'ConfigInvalidError'
    this.issues = issues
  }
}
