"""Custom line-item columns, safe formulas, custom totals and sections, carried into the PDF."""
