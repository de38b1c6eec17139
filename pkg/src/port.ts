// How an entry other than the main one (authlane/graphql-ws) reaches a session: through a
// registered symbol on the Auth object, so separately bundled entries find the same key.
import type { SessionPort } from "./wrap.js";

export const SESSION_PORT: unique symbol = Symbol.for("authlane.sessionPort") as never;

export interface PortAccess {
  port: SessionPort;
  expectAuth: boolean;
  /** How long before a token's expiry the session refreshes it (`refreshLeewaySeconds`). */
  refreshLeewayMs: number;
}
