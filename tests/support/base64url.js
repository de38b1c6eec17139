// base64url (RFC 4648 §5, unpadded) for the test fakes and the demo. Browser-safe and Node-safe:
// btoa/atob and TextEncoder/TextDecoder exist in both, so one copy serves every suite.

/** Text (UTF-8) or bytes → unpadded base64url. */
export function base64urlEncode(input) {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Unpadded (or padded) base64url → UTF-8 text. Throws on characters outside the alphabet. */
export function base64urlDecode(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder().decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
}
