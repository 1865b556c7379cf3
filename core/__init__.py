"""The bottom layer every app shares: the domain error base, money rounding, and (see
docs/architecture.md) the admin and API bases. It imports no Carshop app."""
