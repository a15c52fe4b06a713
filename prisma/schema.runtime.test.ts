import { readFileSync } from "node:fs";
import path from "node:path";
import { get_dmmf } from "@prisma/prisma-schema-wasm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../infra/config/stackFile";
import { query, requirePostgres } from "../test/postgres";
import { tenantDatabase, type TenantDatabase } from "../test/tenantFixtures";

/**
 * The Prisma 7 schema the app generates its client from describes the database the migrations build (issue 17,
 * defect 7): every table and column, its type and nullability, the database-side defaults, the unique keys and
 * the foreign keys — both ways, so neither a migration nor a schema edit can drift alone. The schema is read with
 * Prisma's own parser (prisma-schema-wasm, the engine version of the CLI), the database from its catalog.
 */
interface DmmfField {
  name: string; dbName?: string | null; kind: "scalar" | "object" | "enum"; type: string; isRequired: boolean; isList: boolean; isId: boolean; isUnique: boolean;
  nativeType?: [string, string[]] | null; default?: { name: string; args: unknown[] } | unknown; relationFromFields?: string[]; relationToFields?: string[];
}
interface DmmfModel { name: string; dbName: string | null; fields: DmmfField[]; uniqueFields: string[][]; primaryKey: { fields: string[] } | null }

const schemaText = readFileSync(path.join(REPO_ROOT, "prisma", "schema.prisma"), "utf8");
const models: DmmfModel[] = JSON.parse(get_dmmf(JSON.stringify({ prismaSchema: [["schema.prisma", schemaText]] }))).datamodel.models;
const tableOf = (m: DmmfModel) => m.dbName ?? m.name;
const columnOf = (m: DmmfModel, field: string) => { const f = m.fields.find((x) => x.name === field)!; return f.dbName ?? f.name; };
const byName = new Map(models.map((m) => [m.name, m]));

function sqlType(f: DmmfField): string {
  const native = f.nativeType?.[0];
  if (f.type === "String") return "text";
  if (f.type === "Int") return "integer";
  if (f.type === "DateTime") return native === "Date" ? "date" : native === "Timestamptz" ? `timestamp with time zone(${f.nativeType![1][0]})` : `timestamp without time zone(${f.nativeType?.[1][0] ?? 3})`;
  throw new Error(`no SQL type mapped for ${f.type}: extend the test`);
}
const key = (cols: string[]) => [...cols].sort().join(",");

let db: TenantDatabase;
beforeAll(async () => {
  await requirePostgres();
  db = await tenantDatabase("schema");
});
afterAll(async () => db?.drop());

describe("prisma/schema.prisma matches the database the migrations build", () => {
  it("tables, columns, types, nullability and database defaults", async () => {
    const cols = await query<{ table_name: string; column_name: string; type: string; is_nullable: string; column_default: string | null }>(db.url,
      `SELECT table_name, column_name, is_nullable, column_default,
              CASE WHEN data_type LIKE 'timestamp%' THEN data_type || '(' || datetime_precision || ')' ELSE data_type END AS type
       FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'`);
    const inDb = Object.fromEntries(cols.map((c) => [`${c.table_name}.${c.column_name}`, { type: c.type, nullable: c.is_nullable === "YES", dbDefault: c.column_default }]));
    const inSchema: Record<string, { type: string; nullable: boolean; dbDefault: string | null }> = {};
    for (const m of models) {
      for (const f of m.fields.filter((x) => x.kind === "scalar")) {
        const d = f.default as { name?: string; args?: string[] } | undefined;
        const fromDb = inDb[`${tableOf(m)}.${f.dbName ?? f.name}`];
        // Prisma-side defaults (uuid(), now(), literals) are the client's or a plain DEFAULT; dbgenerated must equal the database's text.
        inSchema[`${tableOf(m)}.${f.dbName ?? f.name}`] = { type: sqlType(f), nullable: !f.isRequired, dbDefault: d?.name === "dbgenerated" ? d.args![0]! : (fromDb?.dbDefault ?? null) };
      }
    }
    expect(inSchema).toEqual(inDb);
    expect(inDb["appointment.clinic_id"]!.dbDefault).toMatch(/current_setting\('app\.clinic_id'/);
  });

  it("primary keys and unique keys", async () => {
    const uniques = await query<{ table_name: string; cols: string[]; is_primary: boolean }>(db.url,
      `SELECT t.relname AS table_name, i.indisprimary AS is_primary, array_agg(a.attname::text ORDER BY a.attname) AS cols
       FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (i.indkey)
       WHERE n.nspname = 'public' AND i.indisunique AND i.indpred IS NULL AND t.relname <> '_prisma_migrations'
       GROUP BY t.relname, i.indexrelid, i.indisprimary`);
    const inDb = uniques.map((u) => `${u.table_name}(${key(u.cols)})${u.is_primary ? " pk" : ""}`).sort();
    const inSchema = models.flatMap((m) => [
      ...m.fields.filter((f) => f.isId).map((f) => `${tableOf(m)}(${f.dbName ?? f.name}) pk`),
      ...m.fields.filter((f) => f.isUnique).map((f) => `${tableOf(m)}(${f.dbName ?? f.name})`),
      ...m.uniqueFields.map((u) => `${tableOf(m)}(${key(u.map((f) => columnOf(m, f)))})`),
    ]).sort();
    expect(inSchema).toEqual(inDb);
  });

  it("relations are the database's foreign keys, composite tenant keys included", async () => {
    const fks = await query<{ table_name: string; cols: string[]; ref_table: string; ref_cols: string[] }>(db.url,
      `SELECT t.relname AS table_name, r.relname AS ref_table,
              (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS cols,
              (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(c.confkey) WITH ORDINALITY k(attnum, n) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) AS ref_cols
       FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid JOIN pg_namespace n ON n.oid = t.relnamespace
       WHERE c.contype = 'f' AND n.nspname = 'public'`);
    const inDb = fks.map((f) => `${f.table_name}(${f.cols.join(",")}) -> ${f.ref_table}(${f.ref_cols.join(",")})`).sort();
    const inSchema = models.flatMap((m) => m.fields.filter((f) => f.kind === "object" && f.relationFromFields?.length).map((f) => {
      const target = byName.get(f.type)!;
      return `${tableOf(m)}(${f.relationFromFields!.map((x) => columnOf(m, x)).join(",")}) -> ${tableOf(target)}(${f.relationToFields!.map((x) => columnOf(target, x)).join(",")})`;
    })).sort();
    expect(inSchema).toEqual(inDb);
    expect(inDb).toContain("appointment(clinic_id,patient_id) -> patient(clinic_id,id)");
  });
});
