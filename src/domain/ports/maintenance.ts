/** What the store's caretakers need: which bytes are still referenced, and a way to start over. */
export interface MaintenanceStore {
  /** The subset of `keys` that some photo or attachment row references. */
  referencedBlobKeys(keys: readonly string[]): Promise<Set<string>>;
  /** Deletes every row (admin reset). */
  reset(): Promise<void>;
}
