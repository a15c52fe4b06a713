/** The example's one page: enough for the browser gate to check the headers and the CSP on a rendered page. */
export default function Home() {
  return (
    <main>
      <h1>Bloom example app</h1>
      <p>The tenant contract&apos;s routes live under /api/appointments.</p>
    </main>
  );
}
