"""Cells a spreadsheet would run as formulas are written as text, in every file Carshop writes for
spreadsheets (the `export` command's CSV files, the admin's CSV and Excel exports).

A text starting with =, +, -, @, a tab or a carriage return is evaluated by Excel, LibreOffice
and Google Sheets (CSV injection): such a cell gets a single quote in front, which spreadsheets
show as text and `restore_cell` takes off again on import. Numbers of numeric columns (a negative
quantity) stay numbers.
"""

import re

# A cell a spreadsheet evaluates: it starts with one of these characters (after the quotes an
# earlier export may have added in front of them).
_FORMULA_CELL = re.compile(r"'*[=+\-@\t\r]")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def neutralize_cell(value, *, numeric=False):
    """The text written in a CSV cell: a formula-like text gets a single quote in front; a number
    of a numeric column is left as it is."""
    text = "" if value is None else str(value)
    if numeric and _NUMBER.fullmatch(text):
        return text
    return "'" + text if _FORMULA_CELL.match(text) else text


def restore_cell(text):
    """A cell as neutralize_cell wrote it -> the value (its leading quote removed)."""
    if text.startswith("'") and _FORMULA_CELL.match(text):
        return text[1:]
    return text


def neutralize_value(value, *, numeric=False):
    """A value for a typed file (Excel): texts as neutralize_cell writes them; numbers, dates
    and empty cells kept as they are."""
    if not isinstance(value, str):
        return value
    return neutralize_cell(value, numeric=numeric)
