/** The console's one stylesheet, inlined with the page's CSP nonce: no asset route, no build step. */
export const CONSOLE_CSS = `
:root { --fg:#1f2328; --muted:#656d76; --line:#d8dee4; --bg:#f6f8fa; --accent:#0969da;
  --ok:#1a7f37; --ok-bg:#dafbe1; --warn:#9a6700; --warn-bg:#fff8c5; --bad:#cf222e; --bad-bg:#ffebe9;
  --info:#0550ae; --info-bg:#ddf4ff; --idle:#57606a; --idle-bg:#eaeef2; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;
  color:var(--fg); background:#fff; }
a { color:var(--accent); text-decoration:none; } a:hover { text-decoration:underline; }
header.top { display:flex; align-items:center; gap:24px; padding:12px 24px; background:#24292f; color:#fff; }
header.top a { color:#fff; font-weight:600; }
header.top nav { display:flex; gap:16px; flex:1; }
header.top .stats { display:flex; gap:8px; font-size:12px; }
header.top .stat { padding:2px 8px; border-radius:12px; background:#32383f; color:#d0d7de; }
header.top .stat.alert { background:var(--bad); color:#fff; }
main { padding:20px 24px 48px; max-width:1280px; }
h1 { font-size:20px; margin:0 0 4px; display:flex; align-items:center; gap:8px; }
h2 { font-size:16px; margin:28px 0 8px; }
h1 .mono { font-size:inherit; }
.sub { color:var(--muted); } p.sub { margin:0 0 16px; }
.crumbs { font-size:13px; color:var(--muted); margin:0 0 8px; }
table { width:100%; border-collapse:collapse; border:1px solid var(--line); border-radius:6px; }
th, td { text-align:left; padding:7px 10px; border-bottom:1px solid var(--line); vertical-align:middle; }
td.name { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:12.5px;
  color:var(--muted); width:40%; }
th { background:var(--bg); font-weight:600; font-size:12px; color:var(--muted); text-transform:uppercase;
  letter-spacing:.03em; }
tbody tr:hover { background:#f9fafb; }
td.mono, .mono { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:12.5px; }
td.nowrap { white-space:nowrap; }
.badge { display:inline-block; padding:1px 8px; border-radius:12px; font-size:12px; font-weight:600;
  margin-right:4px; white-space:nowrap; }
.b-ok { color:var(--ok); background:var(--ok-bg); }
.b-warn { color:var(--warn); background:var(--warn-bg); }
.b-bad { color:var(--bad); background:var(--bad-bg); }
.b-info { color:var(--info); background:var(--info-bg); }
.b-idle { color:var(--idle); background:var(--idle-bg); }
form.filters { display:flex; flex-wrap:wrap; gap:12px; align-items:flex-end; padding:12px;
  background:var(--bg); border:1px solid var(--line); border-radius:6px; margin-bottom:16px; }
form.filters label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); gap:4px; }
input, select { font:inherit; height:32px; padding:4px 8px; border:1px solid var(--line);
  border-radius:6px; background:#fff; min-width:150px; }
button, .button { font:inherit; font-weight:600; height:32px; padding:4px 14px; border-radius:6px;
  cursor:pointer; border:1px solid rgba(31,35,40,.15); background:#f6f8fa; color:var(--fg);
  display:inline-flex; align-items:center; }
.button:hover { text-decoration:none; background:#eef1f4; }
button.primary { background:#1f883d; color:#fff; }
button.danger { background:#fff; color:var(--bad); }
.actions { display:flex; gap:12px; align-items:center; margin:12px 0; }
form { margin:0; }
.pager { display:flex; gap:12px; justify-content:flex-end; margin-top:12px; }
.pager .disabled { color:var(--muted); }
dl.meta { display:grid; grid-template-columns:max-content 1fr; gap:4px 16px; margin:0; }
dl.meta dt { color:var(--muted); } dl.meta dd { margin:0; }
pre { background:var(--bg); border:1px solid var(--line); border-radius:6px; padding:12px;
  overflow:auto; max-height:520px; font-size:12.5px; margin:0; white-space:pre-wrap; word-break:break-word; }
pre.error { color:var(--bad); background:var(--bad-bg); border-color:#ffcecb; max-height:160px; padding:6px 8px; }
tr.attempts-row > td { padding-top:0; border-bottom-width:2px; }
tr.attempts-row:hover, table.attempts tbody tr:hover { background:none; }
table.attempts { border:none; border-left:3px solid var(--line); border-radius:0; font-size:12.5px; }
table.attempts th { background:none; text-transform:none; letter-spacing:0; font-size:12px; padding:3px 8px; }
table.attempts td { padding:3px 8px; border-bottom:1px dashed var(--line); }
table.attempts tr:last-child td { border-bottom:none; }
table.attempts td:nth-child(5) { width:50%; }
table.attempts td.instance { color:var(--muted); font-size:11.5px; white-space:nowrap; }
table.attempts tr.marker td { color:var(--muted); font-size:12px; font-style:italic; background:var(--bg); }
table.attempts pre.error { padding:2px 6px; max-height:96px; }
.banner { padding:10px 14px; border-radius:6px; background:var(--bad-bg); color:var(--bad);
  margin-bottom:16px; border:1px solid #ffcecb; }
.flash { padding:10px 14px; border-radius:6px; background:var(--ok-bg); color:var(--ok); margin-bottom:16px;
  border:1px solid #aceebb; }
.empty { padding:24px; text-align:center; color:var(--muted); }
figure.timeline { margin:8px 0 12px; padding:8px; border:1px solid var(--line); border-radius:6px; }
figure.timeline svg { width:100%; height:auto; display:block; }
figure.timeline figcaption { font-size:12px; margin-top:4px; }
.key { display:inline-block; width:14px; height:8px; border-radius:2px; margin:0 4px 0 10px; }
.k-paid { background:#2da44e; } .k-grace { background:#d4a72c; } .k-access { background:#0969da; }
.k-access-grace { background:#54aeff; } .k-now { background:#cf222e; width:3px; height:12px; }
.grid { display:grid; grid-template-columns:1fr 1fr; gap:24px; }
@media (max-width: 900px) { .grid { grid-template-columns:1fr; } }
`;
