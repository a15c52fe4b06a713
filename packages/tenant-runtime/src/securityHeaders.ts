/**
 * The playbook's five security headers, defined once: the edge sets them on every response (Cloudflare's
 * response-header transform, rendered by the platform) and the app sends them itself from next.config.mjs, so a
 * request that reaches the app without the edge (before the traffic split) gets the same.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "Content-Security-Policy": "default-src 'self'; img-src 'self' data: https:; script-src 'self' 'unsafe-inline'; connect-src 'self' https://api.stripe.com",
  "Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload",
  "X-Frame-Options": "DENY",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "strict-origin-when-cross-origin",
});

/** The same headers in the shape of Next.js's `headers()` in next.config.mjs, for every path. */
export function nextSecurityHeaders(): { source: string; headers: { key: string; value: string }[] }[] {
  return [{ source: "/:path*", headers: Object.entries(SECURITY_HEADERS).map(([key, value]) => ({ key, value })) }];
}
