// A watch repair reads as one on the dashboard: the report says what triggered it, drift stays
// drift (not deploy), and a contested resource is marked and listed.
import t from "tap";
import { reportPage } from "../../server/ui/pages/report.js";
import { makeReport } from "../helpers/server-report.js";

t.test("a watch report shows its trigger, the drift it repaired and what is contested", async (t) => {
  const r = makeReport("web-1", "c0ffee", { drifted: ["file:/etc/motd"] });
  r.trigger = "watch";
  r.contested = ["file:/etc/motd"];
  r.resources[0]!.contested = true;
  const page = reportPage(r, Date.now()).toString();
  t.match(page, "<dt>trigger</dt><dd>watch: a change seen on the box, repaired at once");
  t.match(page, /<span class="tag drift">drift<\/span>/, "the repair is drift");
  t.notMatch(page, /tag deploy/, "not a deploy");
  t.match(page, /<span class="tag contested"[^>]*>contested<\/span>/, "the resource is marked contested");
  t.match(page, "<dt>contested</dt><dd><code>file:/etc/motd</code>");
});

t.test("a report without a trigger (an older agent) shows none", async (t) => {
  const page = reportPage(makeReport("web-1", "c0ffee"), Date.now()).toString();
  t.notMatch(page, "<dt>trigger</dt>");
  t.notMatch(page, "contested");
});
