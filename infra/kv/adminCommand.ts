/** One REST command with the admin token; errors carry the command name only (arguments hold tokens). */
export async function adminCommand(restUrl: string, adminToken: string, command: string[]): Promise<unknown> {
  const res = await fetch(restUrl, { method: "POST", headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" }, body: JSON.stringify(command) });
  const body = (await res.json().catch(() => ({}))) as { result?: unknown; error?: string };
  if (!res.ok || body.error) throw new Error(`store command ${command.slice(0, 2).join(" ")} failed (${res.status}): ${body.error ?? "no answer"}`);
  return body.result;
}
