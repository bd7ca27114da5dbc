/**
 * One call of the Zoho API as the rules see it: who makes it, which operation, in which API version, on which module
 * (and record). The HTTP adapter builds it once from the path and the token; every service method takes it whole, so
 * the operation is never restated and the parameters cannot be passed out of order.
 */
import type { Principal } from './access.js';
import type { ApiVersion } from './modules.js';
import type { OperationName } from './operations.js';

export interface ModuleCall<Op extends OperationName = OperationName> {
  principal: Principal;
  operation: Op;
  version: ApiVersion;
  /** The module name as the path gave it (any case). */
  module: string;
}

export interface RecordCall<Op extends OperationName = OperationName> extends ModuleCall<Op> {
  /** The record id as the path gave it (not yet checked). */
  recordId: string;
}
