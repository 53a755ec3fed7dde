/**
 * The audit report as one self-contained HTML file: inline CSS, no scripts,
 * no external assets, every value escaped. Findings fold open with
 * `<details>`, so it reads the same in a browser, a mail client or an
 * archive years later.
 */
import type { AuditReport } from './audit.js';
import { SEVERITIES, type Finding } from './finding.js';
import { FINDING_CATALOGUE, NIST_800_207_TENETS, NIST_CSF, OWASP_NHI, type OwaspNhiId } from './mappings.js';

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** Escaped text with `code spans` as <code>. */
function rich(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

const CSS = `
:root{--fg:#1d2125;--muted:#5c636a;--line:#dee2e6;--bg:#f8f9fa;--critical:#842029;--high:#b02a37;--medium:#997404;--low:#0a58ca}
*{box-sizing:border-box}body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);margin:0;background:#fff}
header{background:#212529;color:#fff;padding:24px 32px}header h1{margin:0 0 4px;font-size:22px}header p{margin:2px 0;color:#ced4da}
main{padding:24px 32px;max-width:1200px}h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid var(--line);border-radius:6px;padding:10px 16px;min-width:120px;background:var(--bg)}
.card b{display:block;font-size:24px}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--bg);font-weight:600}code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;background:#eef1f4;padding:1px 4px;border-radius:3px;word-break:break-all}
.sev{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600;text-transform:uppercase}
.sev-critical{background:var(--critical)}.sev-high{background:var(--high)}.sev-medium{background:var(--medium)}.sev-low{background:var(--low)}
details{border:1px solid var(--line);border-radius:6px;margin:8px 0;background:#fff}summary{cursor:pointer;padding:8px 12px;list-style-position:inside}
details[open] summary{border-bottom:1px solid var(--line);background:var(--bg)}.body{padding:8px 16px 12px}.body ul{margin:4px 0 8px;padding-left:20px}
.tag{display:inline-block;border:1px solid var(--line);border-radius:4px;padding:0 6px;margin:0 4px 4px 0;font-size:12px;background:var(--bg)}
.muted{color:var(--muted)}.fix{border-left:3px solid #198754;padding:4px 10px;background:#f1f8f4}
`;

function finding(f: Finding): string {
  const owasp = f.mappings.owasp.map(
    (o) =>
      `<span class="tag" title="${escapeHtml(OWASP_NHI[o])}">${o}:2025 ${escapeHtml(OWASP_NHI[o])}</span>`,
  );
  const tenets = f.mappings.nist80207.map(
    (t) => `<span class="tag" title="${escapeHtml(NIST_800_207_TENETS[t])}">SP 800-207 tenet ${t}</span>`,
  );
  const csf = f.mappings.csf.map(
    (c) => `<span class="tag" title="${escapeHtml(NIST_CSF[c])}">CSF ${c}</span>`,
  );
  return `<details id="${escapeHtml(f.id)}"><summary><span class="sev sev-${f.severity}">${f.severity}</span> ${rich(f.title)} <span class="muted">· ${escapeHtml(f.type)}</span></summary>
<div class="body"><p class="muted">${escapeHtml(FINDING_CATALOGUE[f.type].summary)} · subject ${escapeHtml(f.subject.kind)} <code>${escapeHtml(f.subject.id)}</code>${f.subject.identity ? ` of <code>${escapeHtml(f.subject.identity)}</code>` : ''} · <code>${escapeHtml(f.id)}</code></p>
<b>Evidence</b><ul>${f.evidence.map((e) => `<li>${rich(e)}</li>`).join('')}</ul>
<p class="fix"><b>Fix.</b> ${rich(f.fix)}</p>
<p>${[...owasp, ...tenets, ...csf].join('') || '<span class="muted">no framework mapping</span>'}</p></div></details>`;
}

/** The report as a complete HTML document. */
export function renderAuditHtml(report: AuditReport): string {
  const s = report.summary;
  const log = report.log;
  const window = log.given
    ? `${log.records} decision record(s)${log.first ? ` from ${escapeHtml(log.first)} to ${escapeHtml(log.last!)}` : ''}; hash chain ${escapeHtml(log.chain)}${log.chainBreak ? `: ${escapeHtml(log.chainBreak.message)}` : ''}`
    : 'no decision log given: log-based findings were not checked';
  const cards = SEVERITIES.map(
    (sev) => `<div class="card"><span class="sev sev-${sev}">${sev}</span><b>${s.bySeverity[sev]}</b></div>`,
  ).join('');
  const owaspRows = (Object.keys(OWASP_NHI) as OwaspNhiId[])
    .map(
      (o) => `<tr><td>${o}:2025</td><td>${escapeHtml(OWASP_NHI[o])}</td><td>${s.byOwasp[o] ?? 0}</td></tr>`,
    )
    .join('');
  const rows = report.findings
    .map(
      (f) =>
        `<tr><td><span class="sev sev-${f.severity}">${f.severity}</span></td><td><code>${escapeHtml(f.type)}</code></td><td><a href="#${escapeHtml(f.id)}">${rich(f.title)}</a></td><td>${f.mappings.owasp.join(', ')}</td></tr>`,
    )
    .join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gatehouse exposure report — ${escapeHtml(report.trustDomain)}</title><style>${CSS}</style></head>
<body><header><h1>Exposure report: non-human identities of ${escapeHtml(report.trustDomain)}</h1>
<p>As of ${escapeHtml(report.now)} · policy <code>${escapeHtml(report.policyRevision.slice(0, 19))}</code> · ${s.identities} identities</p>
<p>${window}</p></header>
<main><h2>${s.findings} finding(s)</h2><div class="cards">${cards}</div>
<h2>OWASP Non-Human Identities Top 10 (2025)</h2><table><tr><th>Risk</th><th>Name</th><th>Findings</th></tr>${owaspRows}</table>
<h2>All findings</h2><table><tr><th>Severity</th><th>Type</th><th>Finding</th><th>OWASP</th></tr>${rows}</table>
<h2>Details</h2>${report.findings.map(finding).join('\n')}
<p class="muted">Generated by <code>gatehouse audit</code>. Mappings: OWASP Top 10 Non-Human Identities Risks 2025, NIST SP 800-207 §2.1 tenets, NIST CSF 2.0 subcategories; hover a tag for its text.</p>
</main></body></html>
`;
}
