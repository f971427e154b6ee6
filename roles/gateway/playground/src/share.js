// Shareable links: the language and the source travel in the URL fragment
// (#lang=python&src=<base64url of the UTF-8 source>), which browsers never
// send to the server, so a shared program is not logged anywhere on the way.

function toBase64URL(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64URL(s) {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

// shareFragment returns the fragment ("#...") that restores lang and src.
export function shareFragment(lang, src) {
  return "#" + new URLSearchParams({ lang, src: toBase64URL(src) }).toString();
}

// readFragment returns {lang, src} from a fragment made by shareFragment,
// or null when hash holds none (or a damaged one).
export function readFragment(hash) {
  const p = new URLSearchParams(String(hash).replace(/^#/, ""));
  const lang = p.get("lang");
  if (!lang || !p.has("src")) return null;
  try {
    return { lang, src: fromBase64URL(p.get("src")) };
  } catch {
    return null;
  }
}
