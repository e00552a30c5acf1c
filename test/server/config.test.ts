// The server's configuration: defaults that work on one machine, mistakes located in the file.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { formatProblem, TendError } from "../../core/errors.js";
import { loadConfig } from "../../server/config.js";

const file = (text: string) => {
  const f = join(mkdtempSync(join(tmpdir(), "tend-config-")), "server.yaml");
  writeFileSync(f, text);
  return f;
};

t.test("no file: defaults that work on one machine", async (t) => {
  const c = loadConfig();
  t.same(c.listen, { host: "127.0.0.1", port: 7420 });
  t.equal(c.database, "sqlite");
  t.equal(c.keepDays, 90);
});

t.test("mistakes are located and named, all at once", async (t) => {
  const f = file("listen: 127.0.0.1:7420\nreports:\n  keep_dayz: 30\ndatabase: 12\n");
  const err = (() => {
    try {
      loadConfig(f);
    } catch (e) {
      return e;
    }
  })();
  t.ok(err instanceof TendError);
  const lines = (err as TendError).problems.map(formatProblem);
  t.match(
    lines.join("\n"),
    /server\.yaml:3:3: reports\.keep_dayz: unknown key "keep_dayz"; did you mean "keep_days"\?/,
  );
  t.match(lines.join("\n"), /server\.yaml:4:11: database: must be a string, found number 12/);
  t.equal(lines.length, 2, lines.join("\n"));
});

t.test("a YAML syntax error is a located error, not a trace", async (t) => {
  t.throws(() => loadConfig(file("listen: [127.0.0.1\n")), {
    code: "TEND_E_CONFIG",
    message: /is not valid YAML/,
  });
});

t.test("a non-loopback address without TLS is refused unless behind a TLS proxy", async (t) => {
  t.throws(() => loadConfig(file("listen: 0.0.0.0:7420\n")), {
    code: "TEND_E_CONFIG",
    message: /not a loopback address/,
  });
  t.same(loadConfig(file("listen: 0.0.0.0:7420\nbehind_tls_proxy: true\n")).listen, {
    host: "0.0.0.0",
    port: 7420,
  });
});
