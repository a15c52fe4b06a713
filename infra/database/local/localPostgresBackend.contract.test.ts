import { describeBackendContract } from "../describeBackendContract";
import { LocalPostgresBackend } from "./localPostgresBackend";
import { requirePostgres, TEST_PG_URL, uniqueName } from "../../../test/postgres";

describeBackendContract("local Postgres (real)", async () => {
  await requirePostgres();
  return { backend: new LocalPostgresBackend(TEST_PG_URL), projectName: uniqueName("ct") };
});
