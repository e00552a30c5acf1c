/** The dashboard's one stylesheet, served at /ui/style.css (kept in a module so the build carries it). */
export const stylesheet = `
:root{--fg:#1d2430;--muted:#667085;--bg:#f6f7f9;--card:#fff;--line:#e3e6eb;--accent:#2759c4;
--ok:#1f8a4c;--changed:#2f6fd6;--drift:#d9822b;--failed:#c93434;--stale:#8a8f98;--noop:#7a5cc7}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
code,pre{font:12.5px/1.4 ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace}
header.top{display:flex;align-items:center;gap:24px;padding:10px 24px;background:#18202e;color:#fff}
header.top a{color:#d7def0}.brand{font-weight:700;font-size:17px;color:#fff!important;letter-spacing:.5px}
header.top nav{display:flex;gap:16px;flex:1}header.top nav a[aria-current]{color:#fff;border-bottom:2px solid #7aa2ff}
.logout button{background:none;border:1px solid #56607a;color:#d7def0;border-radius:4px;padding:3px 10px;cursor:pointer}
main{max-width:1200px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0 12px}h2{font-size:16px;margin:22px 0 8px}
h1 code{font-size:16px}
.muted{color:var(--muted)}.empty{color:var(--muted);font-style:italic}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0 16px}
.card{display:flex;flex-direction:column;min-width:130px;padding:10px 16px;background:var(--card);border:1px solid var(--line);border-radius:8px;color:var(--fg)}
.card b{font-size:24px}.card span{color:var(--muted)}.card.bad b{color:var(--failed)}.card.warn b{color:var(--drift)}.card.ok b{color:var(--ok)}
.filters{display:flex;flex-wrap:wrap;align-items:center;gap:14px;padding:10px 12px;background:var(--card);border:1px solid var(--line);border-radius:8px}
.filters .where{flex:1 1 60%;display:flex;gap:8px;align-items:center}.filters .where input{flex:1;font-family:ui-monospace,monospace}
.key.c-ok{background:var(--ok)}h1 .h-link{font-size:14px;font-weight:400;margin-left:12px}.windows{margin:0 0 10px}
.search-help p{max-width:70em;margin:6px 0}.search-error{color:var(--failed);background:#fdf3f2;border:1px solid #f1c8c4;border-radius:6px;padding:8px 12px;white-space:pre-wrap}
input,select,button{font:inherit}input[type=search],input[type=password],select{padding:4px 6px;border:1px solid #c9ced6;border-radius:4px}
button,a.button{padding:4px 12px;border:1px solid var(--accent);background:var(--accent);color:#fff;border-radius:4px;cursor:pointer}a.button{display:inline-block;text-decoration:none}
table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line);border-radius:8px;margin:8px 0}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:#3a4352;background:#fafbfc}th a{color:inherit}
td.num,th.num{text-align:right}tr.stale td{background:#fbfaf6}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;background:var(--stale)}
.s-unchanged{background:var(--ok)}.s-changed{background:var(--changed)}.s-would-change{background:var(--noop)}
.s-failed,.s-halted,.s-aborted{background:var(--failed)}.s-running{background:var(--accent)}.s-done{background:var(--ok)}.s-ok{background:var(--ok)}.s-skipped,.s-unknown,.s-none,.s-stale{background:var(--stale)}.s-live{background:var(--accent)}
.tag{display:inline-block;padding:0 6px;border-radius:4px;font-size:12px;border:1px solid}
.tag.drift{color:var(--drift);border-color:var(--drift)}.tag.deploy{color:var(--changed);border-color:var(--changed)}.tag.stale{color:var(--stale);border-color:var(--stale)}.tag.contested{color:var(--failed);border-color:var(--failed)}
.drift-count{color:var(--drift);font-weight:700}code.live{color:var(--accent);font-weight:600}
svg.strip rect{fill:#cfd4dc}svg.strip .r-none{fill:#eceef2}svg.strip .r-ok{fill:var(--ok)}svg.strip .r-changed{fill:var(--changed)}svg.strip .r-noop{fill:var(--noop)}
svg.strip .r-drift{fill:var(--drift)}svg.strip .r-failed{fill:var(--failed)}svg.strip .r-stale{fill:var(--stale)}
.pager{display:flex;justify-content:space-between;align-items:center;margin:8px 0}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0 0 8px}.facts dt,.meta dt{color:var(--muted)}.facts dd,.meta dd{margin:0}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 14px}
pre.json{background:var(--card);border:1px solid var(--line);padding:8px;overflow:auto;max-height:300px}
.chart{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px}
.chart .axis{stroke:#aab1bd}.chart .lbl{font-size:10px;fill:var(--muted)}
.c-changed{fill:var(--changed);background:var(--changed)}.c-drift{fill:var(--drift);background:var(--drift)}.c-failed{fill:var(--failed);background:var(--failed)}.c-ok{fill:var(--ok)}
figcaption{color:var(--muted);font-size:12px;margin-top:4px}.key{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;border-radius:2px}
.resource{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--ok);border-radius:6px;padding:8px 12px;margin:10px 0}
.resource.st-changed{border-left-color:var(--changed)}.resource.st-would-change{border-left-color:var(--noop)}
.resource.st-failed{border-left-color:var(--failed)}.resource.st-skipped{border-left-color:var(--stale)}
.resource header{display:flex;flex-wrap:wrap;align-items:center;gap:8px}.rid{font-weight:600;word-break:break-all}
.changes{font-size:13px}.changes td code{word-break:break-all}
.changes tr.content pre.diff{margin:2px 0}.changes p.note{margin:2px 0;color:var(--muted);font-style:italic}
pre.diff{background:#fbfbfc;border:1px solid var(--line);border-radius:4px;padding:6px 0;overflow:auto;margin:8px 0}
pre.diff span{display:block;padding:0 10px;min-height:1.4em;white-space:pre}
pre.diff .add{background:#e6f6ea;color:#13632f}pre.diff .del{background:#fdecec;color:#a12121}
pre.diff .at{color:#6b48b8;background:#f3f0fb}pre.diff .h{color:var(--muted)}
pre.error,p.error{background:#fdecec;color:#8e1b1b;border:1px solid #f1c0c0;border-radius:4px;padding:6px 10px;white-space:pre-wrap}
pre.output{background:#151a23;color:#dfe6f2;padding:8px 10px;border-radius:4px;overflow:auto;white-space:pre-wrap}
details.unchanged ul{columns:2;margin:6px 0}
table.checks td.reason{word-break:break-word}table.checks tr.st-failed td:first-child{border-left:4px solid var(--failed)}
table.checks pre.output{margin:6px 0 0;max-height:240px}
.drift-group h2{display:flex;flex-wrap:wrap;gap:10px;align-items:baseline}.drift-group h2 span{font-size:13px;font-weight:400}.drift-group h2 code{font-size:14px}
svg.rollout{width:100%;height:14px;display:block;background:#e3e6eb;border-radius:4px}
.r-ok{fill:var(--ok)}.r-failed{fill:var(--failed)}.r-older{fill:var(--drift)}.r-stale{fill:var(--stale)}
tr.live td{background:#f1f5ff}.problems{margin:4px 0 0;padding-left:18px;color:#8e1b1b}
.error-text{color:#8e1b1b}.open-alerts h2{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
.tag.k-failing,.tag.k-refused-commit{color:var(--failed);border-color:var(--failed)}.tag.k-stale{color:var(--stale);border-color:var(--stale)}
.tag.k-drifted{color:var(--drift);border-color:var(--drift)}
.login{max-width:420px;margin:60px auto;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:20px 24px}
.who{color:#d7def0;font-size:13px}.who .role{display:inline-block;padding:0 6px;margin-left:4px;border:1px solid #56607a;border-radius:8px;font-size:11px}
.actions{display:flex;flex-wrap:wrap;align-items:center;gap:8px;margin:8px 0 12px}form.action{display:inline;margin:0}
.row-actions{display:flex;gap:6px}.row-actions button{padding:2px 8px;font-size:12px}
button.danger{background:var(--failed);border-color:var(--failed)}button[disabled]{background:#c9ced6;border-color:#c9ced6;cursor:not-allowed}
.confirm,.result{max-width:760px;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 20px}
form.confirm{display:flex;align-items:center;gap:16px;flex-wrap:wrap;margin-top:12px;padding:0;border:0}
p.warn{background:#fff6e6;color:#7a4a00;border:1px solid #f0d39a;border-radius:4px;padding:6px 10px}
code.secret,pre.install{display:block;white-space:pre-wrap;word-break:break-all;background:#151a23;color:#dfe6f2;padding:8px 10px;border-radius:4px;user-select:all;margin:0}
ul.nodes{columns:3;margin:6px 0}table.audit td{font-size:13px}
input[type=text],input[type=number]{padding:4px 6px;border:1px solid #c9ced6;border-radius:4px}
.login code{white-space:nowrap}.login label{display:flex;flex-direction:column;gap:4px;margin:12px 0}.login input{width:100%}
nav.tabs{margin:0 0 12px}nav.tabs .tab{display:inline-block;padding:3px 10px;border:1px solid #c9ced6;border-radius:4px;margin:0 4px 4px 0}nav.tabs b.tab{background:#f1f5ff}
.tag.env{color:var(--accent);border-color:var(--accent)}.tag.warn{color:var(--stale);border-color:var(--stale)}
`;
