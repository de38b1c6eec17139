// The cross-tab name of a session given none (also the storage key's, with crossTab off). Tabs that
// share a name share tokens, so sessions of different backends must not share one by default: the default is derived from what tells their
// backends apart, as far as the session knows at its start (README, "Which tabs share").

/** What a default name is derived from, in this order. */
export interface BackendHints {
  /** The address of the first client wrapped before the session started (convex's `url`). */
  address: string | undefined;
  /** The app's callback: its source text tells two providers' (or audiences') callbacks apart. */
  fetchAccessToken: unknown;
}

/** `given`, or `default:` and a hash of the backend's address (else of the callback's source). */
export function crossTabName(given: string | null, hints: BackendHints): string {
  if (given !== null) return given;
  const source = hints.address !== undefined ? `address:${hints.address}` : `callback:${String(hints.fetchAccessToken)}`;
  return `default:${fnv1a(source)}`;
}

/**
 * The address a convex-like client talks to: `url` (ConvexReactClient, BaseConvexClient,
 * ConvexHttpClient) or its inner client's (ConvexClient). Getters that throw count as none.
 */
export function backendAddress(client: object): string | undefined {
  try {
    const direct = (client as { url?: unknown }).url;
    if (typeof direct === "string") return direct;
    const inner = (client as { client?: { url?: unknown } }).client?.url;
    return typeof inner === "string" ? inner : undefined;
  } catch {
    return undefined;
  }
}

/** 32-bit FNV-1a over UTF-16 code units, as 8 hex digits: a short, stable name part. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, "0");
}
