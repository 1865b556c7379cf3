"""What every app's API shares: fields, filters, pagination, rows, parsers, the error format and
the OpenAPI schema. Imports no Carshop app."""
