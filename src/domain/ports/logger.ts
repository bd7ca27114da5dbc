/** The slice of a logger the rules need (pino's Logger satisfies it); keeps the domain free of a logging library. */
export interface DomainLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: DomainLogger = {
  info: () => {},
  warn: () => {},
  error: () => {},
};
