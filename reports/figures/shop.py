"""The shop's figures (repair orders, labor, parts, technicians, receivables, parts stock).

Each figure is defined once here (and in words in docs/reports.md); each is an aggregate query.
"""
