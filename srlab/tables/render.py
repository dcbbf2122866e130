"""Render a :class:`~srlab.tables.build.Table` as Markdown, LaTeX (booktabs) or CSV."""

from __future__ import annotations

import csv
import io

from srlab.tables.build import Table

LATEX_CHARS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
               "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
               "Δ": r"$\Delta$", "α": r"$\alpha$", "γ": r"$\gamma$", "×": r"$\times$", "−": r"$-$",
               "—": "---", "‡": r"\ddag{}", "✓": r"\checkmark{}", "✗": r"$\times$", "²": r"$^2$",
               "±": r"$\pm$", "°": r"$^\circ$", "τ": r"$\tau$", "ᵀ": r"$^\top$", "β": r"$\beta$"}  # fmt: skip


def latex_escape(text: str) -> str:
    """Escape LaTeX specials and map the few non-ASCII symbols the tables use."""
    return "".join(LATEX_CHARS.get(c, c) for c in text)


def to_markdown(table: Table) -> str:
    """A GitHub-flavoured Markdown table with a title and footnotes."""
    lines = [f"### {table.title}", "", "| " + " | ".join(table.columns) + " |",
             "|" + "|".join("---" for _ in table.columns) + "|"]  # fmt: skip
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in table.rows]
    return "\n".join([*lines, "", *(f"- {note}" for note in table.notes)]) + "\n"


def to_latex(table: Table) -> str:
    """A ``table`` environment with a booktabs ``tabular`` and the footnotes below it."""
    head = " & ".join(latex_escape(c) for c in table.columns)
    body = [" & ".join(latex_escape(c) for c in row) + r" \\" for row in table.rows]
    lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{latex_escape(table.title)}}}",
             r"\resizebox{\linewidth}{!}{%", rf"\begin{{tabular}}{{ll{'c' * (len(table.columns) - 2)}}}",
             r"\toprule", head + r" \\", r"\midrule", *body, r"\bottomrule", r"\end{tabular}}",
             r"\par\footnotesize", *(latex_escape(n) + r"\\" for n in table.notes), r"\end{table}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """Header and rows only (footnotes are not data)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return out.getvalue()


FORMATS = {"md": to_markdown, "tex": to_latex, "csv": to_csv}


def render(table: Table, fmt: str = "md") -> str:
    """``fmt``: ``md``, ``tex`` or ``csv``."""
    if fmt not in FORMATS:
        raise ValueError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    return FORMATS[fmt](table)
