import type { FaultRule } from '../entities.js';

/** Fault rules, shared by every instance and the CLI. */
export interface FaultStore {
  /** Every rule, oldest first. */
  list(): Promise<FaultRule[]>;
  insert(rule: FaultRule): Promise<void>;
  delete(id: string): Promise<boolean>;
  deleteAll(): Promise<number>;
  /**
   * Counts one firing of the rule. A rule limited to a number of firings fires only while some remain, decided in one
   * atomic step (instances never fire it more often than allowed between them); false when none remained or the rule
   * is gone.
   */
  fire(id: string): Promise<boolean>;
}
