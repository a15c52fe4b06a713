import { expect, test } from "@playwright/test";
import { SECURITY_HEADERS } from "@bloom/tenant-runtime";

// The playbook's security headers come from the app itself (next.config.mjs), before any traffic reaches the edge:
// the same five, with the values the edge renders, on an API answer and on an error.
test('the five security headers, from the definition the edge renders', async ({ request }) => {
  expect(Object.keys(SECURITY_HEADERS)).toHaveLength(5);
  for (const res of [await request.get('/api/appointments'), await request.get('/no-such-page')]) {
    const got = res.headers();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(got[name.toLowerCase()], `${name} on ${res.url()} (${res.status()})`).toBe(value);
    expect(got['x-powered-by']).toBeUndefined();
  }
});
