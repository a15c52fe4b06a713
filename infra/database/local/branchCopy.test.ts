import { describe, expect, it } from "vitest";
import { libpqEnvironment } from "./branchCopy";

describe("credentials for pg_dump / pg_restore", () => {
  it("travel as libpq environment variables, decoded, with the URL's options", () => {
    expect(libpqEnvironment("postgres://bloom%5Fmig:p%40ss%2Fw@127.0.0.1:5433/bloom-local%2Fmain?sslmode=require&application_name=x")).toEqual({
      PGHOST: "127.0.0.1",
      PGPORT: "5433",
      PGUSER: "bloom_mig",
      PGPASSWORD: "p@ss/w",
      PGDATABASE: "bloom-local/main",
      PGSSLMODE: "require",
      PGAPPNAME: "x",
    });
  });
});
