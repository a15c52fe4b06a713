import { describeBackendContract } from "../describeBackendContract";
import { LocalPostgresBackend } from "./localPostgresBackend";
import { requirePostgres, TEST_PG_URL, uniqueName } from "../../../test/postgres";

describeBackendContract("local Postgres (real)", async () => {
  await requirePostgres();
  let offset = 0; // the backend's expiry clock, moved by the contract
  return {
    backend: new LocalPostgresBackend(TEST_PG_URL, undefined, () => Date.now() + offset),
    projectName: uniqueName("ct"),
    clock: { advance: (ms) => (offset += ms), reset: () => (offset = 0) },
  };
});
