import { expect, test } from "@playwright/test";
import { loginAsClinic } from "./loginAsClinic";

// The playbook's test, as written (docs: ../shared/seed-playbook.md, "Quality Gates").
test('Tenant isolation between A and B', async ({ request }) => {
  const tenantA = await loginAsClinic('alpha');
  const tenantB = await loginAsClinic('beta');

  const create = await request.post('/api/appointments/create', {
    headers: { 'x-clinic-id': tenantA.id, cookie: tenantA.cookie },
    data: { paquete: 'pkg-alpha', terapeuta: 'thera-1', branchId: 'branch-A', date: '2025-01-10', hour: '10:00' }
  });
  expect(create.ok()).toBeTruthy();

  const listB = await request.get('/api/appointments', {
    headers: { 'x-clinic-id': tenantB.id, cookie: tenantB.cookie }
  });
  const body = await listB.json();
  expect(body.reservations).toEqual([]);
});

// Without this the test above passes for an API that reads without a tenant in enforce mode (every read is []).
test('alpha sees the appointment alpha created', async ({ request }) => {
  const tenantA = await loginAsClinic('alpha');
  const create = await request.post('/api/appointments/create', {
    headers: { 'x-clinic-id': tenantA.id, cookie: tenantA.cookie },
    data: { paquete: 'pkg-alpha', terapeuta: 'thera-1', branchId: 'branch-A', date: '2025-01-11', hour: '11:00' }
  });
  expect(create.status()).toBe(201);
  const { id } = await create.json();
  const listA = await request.get('/api/appointments', { headers: { 'x-clinic-id': tenantA.id, cookie: tenantA.cookie } });
  expect(listA.status()).toBe(200);
  expect((await listA.json()).reservations.map((r: { id: string }) => r.id)).toContain(id);
});

test('a clinic cannot act as another by changing the header', async ({ request }) => {
  const tenantB = await loginAsClinic('beta');
  const asAlpha = await request.get('/api/appointments', { headers: { 'x-clinic-id': 'alpha', cookie: tenantB.cookie } });
  expect(asAlpha.status()).toBe(403);
});
