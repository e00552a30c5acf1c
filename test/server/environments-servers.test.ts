/**
 * Issue 13 with two servers on one PostgreSQL: one judges each branch's head, the other adopts the
 * verdicts and serves the same live commit per environment without judging again.
 */
import t from "tap";
import { type CompilerFns, coreCompiler } from "../../server/compiler.js";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { commitOn, envRecipes } from "../helpers/server-branches.js";
import { facts, TestRepo } from "../helpers/server-git.js";
import { noPgReason, pgUrl, postgresStorage } from "../helpers/server-storage.js";

t.test(
  "two servers, one PostgreSQL: branches judged once, served alike",
  { skip: pgUrl ? false : noPgReason },
  async (t) => {
    const repo = new TestRepo();
    t.teardown(() => repo.cleanup());
    const nodes = '- name: "*"\n  recipes: [base]\n- name: "stage-*"\n  environment: staging\n';
    const main = repo.commit(envRecipes("main", nodes), "main");
    const staging = commitOn(repo, "staging", envRecipes("staging", nodes), "staging");
    const shared = postgresStorage(pgUrl!);
    const config = { recipes: { repo: repo.dir, branches: ["main", "staging"], poll: "0" } };
    const one = await startTestServer({ repo, storage: shared, config });
    t.teardown(() => one.close());
    const core = await coreCompiler();
    let validated = 0;
    const counting: CompilerFns = {
      compile: (...a) => core.compile(...a),
      validateRepo: (r) => {
        validated++;
        return core.validateRepo(r);
      },
    };
    // The second server shares the schema; the first drops it at the end.
    const two = await startTestServer({
      repo,
      storage: { ...shared, cleanup: async () => {} },
      config,
      compiler: counting,
    });
    t.teardown(() => two.close());
    t.equal(validated, 0, "the second server adopted both branches' verdicts without judging");
    t.equal(two.gate.liveFor("main")?.sha, main);
    t.equal(two.gate.liveFor("staging")?.sha, staging);

    const cred = await one.enroll("stage-1");
    const pull = async (s: typeof one) =>
      (
        await s.app.inject({
          method: "POST",
          url: "/api/v1/catalog",
          headers: bearer(cred),
          payload: { facts: facts("stage-1") },
        })
      ).headers;
    t.match(await pull(one), { "x-tend-environment": "staging", "x-tend-commit": staging });
    t.match(
      await pull(two),
      { "x-tend-environment": "staging", "x-tend-commit": staging },
      "the same answer from either server",
    );

    const next = commitOn(repo, "staging", envRecipes("staging 2", nodes), "staging 2");
    await one.gate.refresh();
    await two.gate.refresh();
    t.equal(validated, 0, "a new head judged by the first server is adopted by the second");
    t.equal(two.gate.liveFor("staging")?.sha, next);
    t.equal(two.gate.liveFor("main")?.sha, main);
  },
);
