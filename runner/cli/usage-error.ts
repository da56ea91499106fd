import { UserError } from '../../stages/errors.js';

/** A wrong command line: printed with the usage hint, exit code 2. */
export class UsageError extends UserError {
  readonly reason = 'usage';
}
