// OpenPGP fingerprints computed without gpg agree with what gpg itself prints, for armored and
// binary key files, ed25519 and RSA keys, and files holding several keys; pins must match exactly.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import t from "tap";
import { isArmored, normalFingerprint, pinProblem, primaryFingerprints } from "../../core/openpgp.js";
import { makeKey } from "../helpers/apt-repo.js";

const dir = mkdtempSync("/var/tmp/tend-openpgp-");
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const ed = makeKey(dir, "ed");
const rsa = makeKey(dir, "rsa", "rsa2048");

t.test("the fingerprints gpg prints, from armored and binary files", async (t) => {
  t.same(primaryFingerprints(Buffer.from(ed.armored)), [ed.fingerprint]);
  t.same(primaryFingerprints(ed.binary), [ed.fingerprint]);
  t.same(primaryFingerprints(rsa.binary), [rsa.fingerprint]);
  t.ok(isArmored(Buffer.from(ed.armored)));
  t.notOk(isArmored(ed.binary));
  t.same(primaryFingerprints(Buffer.concat([ed.binary, rsa.binary])), [ed.fingerprint, rsa.fingerprint]);
});

t.test("pins: every key pinned, every pin present, blanks and case ignored", async (t) => {
  const spaced = ed.fingerprint.replace(/(.{4})/g, "$1 ").toLowerCase();
  t.equal(normalFingerprint(spaced), ed.fingerprint);
  t.equal(pinProblem(Buffer.from(ed.armored), spaced), null);
  t.match(pinProblem(Buffer.from(ed.armored), rsa.fingerprint), `it does not hold ${rsa.fingerprint}`);
  const both = Buffer.concat([ed.binary, rsa.binary]);
  t.match(pinProblem(both, ed.fingerprint), `it holds ${rsa.fingerprint}, which is not pinned`);
  t.equal(pinProblem(both, [rsa.fingerprint, ed.fingerprint]), null);
});

t.test("what is not a public key says so", async (t) => {
  const secret = execFileSync("gpg", ["--homedir", ed.home, "--batch", "--export-secret-keys"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.match(pinProblem(secret, ed.fingerprint), /SECRET key/);
  t.match(pinProblem(Buffer.from("hello"), ed.fingerprint), /not OpenPGP key data/);
  t.match(pinProblem(ed.binary.subarray(0, 20), ed.fingerprint), /truncated/);
  t.match(
    pinProblem(
      Buffer.from("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n"),
      "x",
    ),
    /holds no public key/,
  );
});
