/**
 * Account passwords: scrypt with a salt of its own per hash, the parameters stored with it, a wrong
 * password refused, and an unknown account or a malformed stored hash checked with the same work
 * (one key derivation) as a known one, so neither the answer nor the work done tells them apart.
 */
import * as crypto from "node:crypto";
import t from "tap";
import { hashPassword, kdf, passwordProblem, verifyPassword } from "../../server/passwords.js";

t.test("a hash carries its parameters and a salt of its own, and checks only its password", async (t) => {
  const a = await hashPassword("correct horse battery");
  const b = await hashPassword("correct horse battery");
  t.match(a, new RegExp(`^scrypt\\$${kdf.N}\\$${kdf.r}\\$${kdf.p}\\$[A-Za-z0-9_-]{22}\\$[A-Za-z0-9_-]{43}$`));
  t.not(a, b, "the same password hashes differently (per-hash salt)");
  t.equal(await verifyPassword(a, "correct horse battery"), true);
  t.equal(await verifyPassword(b, "correct horse battery"), true);
  t.equal(await verifyPassword(a, "correct horse batterY"), false, "a wrong password is refused");
  t.equal(await verifyPassword(a, ""), false);
  t.equal(await verifyPassword(a, "x".repeat(5000)), false, "an overlong password is refused");
});

t.test("malformed or unaffordable stored hashes never verify", async (t) => {
  const good = await hashPassword("correct horse battery");
  const [, , , , salt, hash] = good.split("$");
  for (const bad of [
    "",
    "plain",
    `bcrypt$${kdf.N}$8$1$${salt}$${hash}`,
    `scrypt$${2 ** 24}$8$1$${salt}$${hash}`, // 16 GiB: refused, not attempted
    `scrypt$0$8$1$${salt}$${hash}`,
    `scrypt$${kdf.N}$8$1$${salt}`,
  ]) {
    t.equal(await verifyPassword(bad, "correct horse battery"), false, JSON.stringify(bad.slice(0, 30)));
  }
});

t.test("an unknown account and a malformed hash cost one key derivation, as a real check does", async (t) => {
  let derivations = 0;
  const counted = {
    ...crypto,
    scrypt: ((...args: Parameters<typeof crypto.scrypt>) => {
      derivations++;
      return (crypto.scrypt as (...a: unknown[]) => void)(...args);
    }) as typeof crypto.scrypt,
  };
  const p = await t.mockImport<typeof import("../../server/passwords.js")>("../../server/passwords.js", {
    "node:crypto": counted,
  });
  const stored = await p.hashPassword("correct horse battery");
  await p.verifyPassword(undefined, "warm up the dummy hash");
  const cost = async (stored: string | undefined, password: string) => {
    derivations = 0;
    const ok = await p.verifyPassword(stored, password);
    return { ok, derivations };
  };
  t.same(await cost(stored, "correct horse battery"), { ok: true, derivations: 1 });
  t.same(await cost(stored, "wrong horse battery"), { ok: false, derivations: 1 });
  t.same(await cost(undefined, "correct horse battery"), { ok: false, derivations: 1 }, "no such account");
  t.same(await cost("garbage", "correct horse battery"), { ok: false, derivations: 1 }, "malformed hash");
});

t.test("passwords must be 12 to 1024 characters", async (t) => {
  t.match(passwordProblem("short"), /shorter than 12/);
  t.match(passwordProblem("x".repeat(1025)), /longer than 1024/);
  t.equal(passwordProblem("twelve chars"), null);
});
