/** A window of a listing: at most `limit` items after skipping `offset`. */
export interface Page {
  limit: number;
  offset: number;
}
