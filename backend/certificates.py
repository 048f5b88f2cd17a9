"""A retirement as a printable page: what was retired, for whom, and how anyone can check it on chain.
Everything shown that a user wrote (beneficiary, purpose) is escaped."""

from __future__ import annotations

from html import escape

from backend.schemas import CertificatePublic

STYLE = """
body { font-family: Georgia, serif; max-width: 46rem; margin: 2rem auto; color: #1d2b22; line-height: 1.45; }
h1 { font-size: 1.7rem; border-bottom: 3px double #2f6b45; padding-bottom: .4rem; }
.amount { font-size: 2.4rem; color: #2f6b45; margin: .5rem 0; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #d5ded8; vertical-align: top; }
code { font-size: .82rem; word-break: break-all; }
@media print { body { margin: 0; } }
"""


def page(certificate: CertificatePublic) -> str:
    c = certificate
    period = f"{c.period_start} to {c.period_end}" if c.period_start else "not stated"
    batches = "".join(
        f"<tr><td>{b.batch_id}</td><td>{escape(b.date)}</td><td>{b.methodology_id}"
        f"{' (' + escape(b.methodology_uri) + ')' if b.methodology_uri else ''}</td><td>{b.grams.kg} kg</td>"
        f"<td><code>{escape(b.evidence_root)}</code></td></tr>"
        for b in c.batches
    )
    verify = c.verify
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Retirement certificate #{c.retirement_id}</title>
<style>{STYLE}</style></head><body>
<h1>Green Travel Credits — retirement certificate #{c.retirement_id}</h1>
<p class="amount">{c.amount.kg} kg CO2e</p>
<p>retired for <strong>{escape(c.beneficiary)}</strong></p>
<table>
<tr><th>Purpose</th><td>{escape(c.purpose) or "not stated"}</td></tr>
<tr><th>Consumption period</th><td>{escape(period)}</td></tr>
<tr><th>Retired by</th><td><code>{c.account}</code></td></tr>
<tr><th>Date</th><td>{c.retired_at:%Y-%m-%d %H:%M} UTC</td></tr>
<tr><th>Transaction</th><td><code>{c.tx_hash}</code> (block {c.block_number})</td></tr>
<tr><th>Amount</th><td>{c.amount.grams} g</td></tr>
</table>
<h2>Where the credits came from</h2>
<p>Credits are fungible: these are the mint batches that credited the accounts the retired credits came from
({", ".join(f"<code>{source}</code>" for source in c.sources)}), each with its methodology and the Merkle root
of the signed device reports behind it.</p>
<table><tr><th>Batch</th><th>Day</th><th>Methodology</th><th>Credited</th><th>Evidence root</th></tr>{batches}</table>
<h2>Verify it yourself</h2>
<p>On chain {verify["chainId"]}, call <code>{escape(verify["call"])}</code> on the token
<code>{verify["token"]}</code>: it returns this record (account, amount, beneficiary, purpose, period, time).
The transaction above emitted <code>CreditsRetired</code> with the same number; retired credits are burnt and can
never move again. A credit of a batch is checked against its evidence root with
<code>CreditToken.verifyCredit</code>.</p>
</body></html>
"""
