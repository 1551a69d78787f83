/** The report page's styles (inlined in the page). */
export const PAGE_STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1280px; padding: 0 20px 40px; color: #222; }
header { border-bottom: 1px solid #ddd; margin-bottom: 8px; }
header p { margin: 2px 0; color: #555; font-size: 14px; }
h1 { font-size: 22px; margin: 18px 0 6px; }
h2 { font-size: 18px; margin: 22px 0 8px; }
table.summary { border-collapse: collapse; font-size: 14px; }
table.summary th, table.summary td { padding: 4px 10px; border-bottom: 1px solid #e3e3e3; text-align: right; }
table.summary th:first-child { text-align: left; }
table.summary tr.ours td, table.summary tr.ours th { font-weight: 600; background: #f3f7fc; }
table.pocket-table { border-collapse: collapse; font-size: 13px; margin: 10px 0 16px; }
table.pocket-table caption { text-align: left; font-weight: 600; padding: 4px 0; }
table.pocket-table th, table.pocket-table td { padding: 3px 8px; border-bottom: 1px solid #e3e3e3; text-align: right; }
table.pocket-table th:first-child, table.pocket-table td:first-child, table.pocket-table td:last-child { text-align: left; }
.card .scores { font-size: 12px; color: #444; margin-top: 4px; }
.counts, .note { font-size: 13px; color: #555; max-width: 900px; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
.plots figure { margin: 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(400px, 1fr)); gap: 12px; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 8px; font-size: 12px; }
.card .title { font-weight: 600; margin-bottom: 4px; }
.card .views { display: flex; gap: 6px; }
.card .depiction { width: 200px; height: 150px; }
.card .depiction svg { width: 200px; height: 150px; }
.card .viewer { position: relative; width: 180px; height: 150px; border: 1px solid #eee; }
.card .smiles { font-family: ui-monospace, monospace; word-break: break-all; margin-top: 4px; }
.no-depiction { width: 200px; height: 150px; display: flex; align-items: center; justify-content: center; color: #999; background: #fafafa; }
.ok { color: #1b7f3b; } .bad { color: #c0392b; } .warn { color: #b7791f; }
.released { font-size: 11px; color: #999; padding: 8px; }
.chain { position: relative; width: 420px; height: 320px; border: 1px solid #eee; }
`;
