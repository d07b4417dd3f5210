"""The DuckDB warehouse: schema, bulk loading, SQL models, atomic publishing."""
